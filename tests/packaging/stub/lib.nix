# A STUB of the parts of nixpkgs' `lib` the modules use, including a small
# module evaluator standing in for lib.evalModules.  nixpkgs cannot be
# fetched here, so tests/packaging evaluates the modules against this.
#
# It is not nixpkgs: it implements only what packaging/nix/*.nix and the
# test cases need, with nixpkgs' semantics where they matter for the
# checks:
#   - options: mkOption (default, type), mkEnableOption; an option that is
#     read but has neither a default nor a definition throws;
#   - types with check functions (a wrong value throws, naming the option)
#     and merge functions: bool, str, path, package, anything, enum,
#     ints.between, strMatching, nullOr, listOf, attrsOf;
#   - definitions: mkIf (conditions evaluated only at the leaves, as
#     nixpkgs pushes them down), mkMerge, mkDefault/mkOverride priorities;
#   - imports (functions, attribute sets, paths) and `config` passed back;
#   - a handful of list, string and attribute helpers.
# Not implemented: submodules, mkOrder, mkForce-style tricks beyond
# priorities, option aliases, freeform types, `options` argument.
let
  b = builtins;

  # ---- helpers (same names and behaviour as nixpkgs' lib)
  optionalAttrs = c: s: if c then s else { };
  optional = c: x: if c then [ x ] else [ ];
  optionals = c: l: if c then l else [ ];
  concatStringsSep = b.concatStringsSep;
  concatMap = f: l: b.concatLists (map f l);
  hasPrefix = p: s: b.substring 0 (b.stringLength p) s == p;
  hasSuffix = p: s:
    let ls = b.stringLength s; lp = b.stringLength p; in
    ls >= lp && b.substring (ls - lp) lp s == p;
  removeSuffix = p: s:
    if hasSuffix p s then b.substring 0 (b.stringLength s - b.stringLength p) s else s;
  mapAttrsToList = f: s: map (n: f n s.${n}) (b.attrNames s);
  genAttrs = names: f: b.listToAttrs (map (n: { name = n; value = f n; }) names);
  escapeShellArg = s: "'" + b.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  fileContents = f: removeSuffix "\n" (b.readFile f);
  any = b.any;
  toList = x: if b.isList x then x else [ x ];
  showLoc = concatStringsSep ".";

  # ---- definitions
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  typeOf = v: if b.isAttrs v then v._type or "" else "";

  # One definition as a list of { priority, value } with mkIf and mkMerge
  # discharged; used at option leaves, where forcing conditions is safe.
  discharge = prio: v:
    let t = typeOf v; in
    if t == "if" then (if v.condition then discharge prio v.content else [ ])
    else if t == "merge" then concatMap (discharge prio) v.contents
    else if t == "override" then discharge v.priority v.content
    else [{ priority = prio; value = v; }];

  # Keys of a definition that is not yet at a leaf, without forcing any
  # mkIf condition: mkIf c { a = x; } becomes { a = mkIf c x; }.
  pushDown = v:
    let t = typeOf v; in
    if t == "if" then b.mapAttrs (_: mkIf v.condition) (pushDown v.content)
    else if t == "merge" then
      b.zipAttrsWith (_: vs: mkMerge vs) (map pushDown v.contents)
    else if t == "override" then b.mapAttrs (_: mkOverride v.priority) (pushDown v.content)
    else v;

  # ---- types
  mkType = name: check: merge: { _type = "type"; inherit name check merge; };
  mergeEqual = loc: defs:
    let first = (b.head defs).value; in
    if b.all (d: d.value == first) defs then first
    else throw "The option `${showLoc loc}' has conflicting definition values";
  checked = type: loc: v:
    if type.check v then v
    else throw "The option `${showLoc loc}' has a wrong type: expected ${type.name}, got ${b.typeOf v}: ${b.toJSON (if b.isAttrs v && v ? outPath then v.outPath else v)}";

  # Merges nested attribute sets, concatenates lists, else must be equal.
  mergeAnything = loc: defs:
    let vs = concatMap (d: discharge 100 d.value) defs; best = highest vs; in
    if best == [ ] then throw "The option `${showLoc loc}' has no definition"
    else if b.all (d: b.isAttrs d.value && !(d.value ? outPath)) best then
      b.zipAttrsWith (n: xs: mergeAnything (loc ++ [ n ]) (map (x: { value = x; }) xs))
        (map (d: pushDown d.value) best)
    else if b.all (d: b.isList d.value) best then concatMap (d: d.value) best
    else mergeEqual loc best;

  types = rec {
    bool = mkType "boolean" b.isBool mergeEqual;
    str = mkType "string" b.isString mergeEqual;
    int = mkType "signed integer" b.isInt mergeEqual;
    path = mkType "path" (v: (b.isPath v || b.isString v) && hasPrefix "/" (toString v)) mergeEqual;
    package = mkType "package" (v: b.isAttrs v && (v.type or "") == "derivation") mergeEqual;
    anything = mkType "anything" (_: true) mergeAnything;
    enum = vals: mkType "one of ${concatStringsSep ", " (map b.toJSON vals)}" (v: b.elem v vals) mergeEqual;
    ints.between = lo: hi: mkType "integer between ${toString lo} and ${toString hi} (both inclusive)"
      (v: b.isInt v && v >= lo && v <= hi) mergeEqual;
    strMatching = re: mkType "string matching the pattern ${re}" (v: b.isString v && b.match re v != null) mergeEqual;
    nullOr = t: mkType "null or ${t.name}" (v: v == null || t.check v)
      (loc: defs: if b.all (d: d.value == null) defs then null
        else t.merge loc (b.filter (d: d.value != null) defs));
    listOf = t: mkType "list of ${t.name}" b.isList
      (loc: defs: concatMap (d: map (checked t loc) d.value) defs);
    attrsOf = t: mkType "attribute set of ${t.name}" b.isAttrs
      (loc: defs: b.zipAttrsWith (n: vs: t.merge (loc ++ [ n ]) (map (v: { value = v; }) vs))
        (map (d: pushDown d.value) defs));
  };

  # ---- options
  mkOption = attrs: { _type = "option"; type = types.anything; } // attrs;
  mkEnableOption = what: mkOption {
    type = types.bool;
    default = false;
    description = "Whether to enable ${what}.";
  };
  literalExpression = text: { _type = "literalExpression"; inherit text; };
  isOption = v: b.isAttrs v && (v._type or "") == "option";

  highest = defs:
    let top = b.foldl' (m: d: if d.priority < m then d.priority else m) 9999 defs; in
    b.filter (d: d.priority == top) defs;

  # The value of one option from its definitions (each { value }).
  evalOption = loc: opt: defs:
    let
      all = concatMap (d: discharge 100 d.value) defs
        ++ optional (opt ? default) { priority = 1500; value = opt.default; };
      best = highest all;
    in
    if best == [ ] then throw "The option `${showLoc loc}' is used but not defined"
    else opt.type.merge loc (map (d: { value = checked opt.type loc d.value; }) best);

  # Walk the option tree and the definitions side by side.
  evalTree = loc: decls: defs:
    if isOption decls then evalOption loc decls defs
    else
      let
        pushed = map (d: pushDown d.value) defs;
        unknown = b.filter (n: !(decls ? ${n})) (b.concatMap b.attrNames pushed);
      in
      if unknown != [ ] then throw "The option `${showLoc (loc ++ [ (b.head unknown) ])}' does not exist"
      else b.mapAttrs
        (n: sub: evalTree (loc ++ [ n ]) sub
          (concatMap (p: optional (p ? ${n}) { value = p.${n}; }) pushed))
        decls;

  mergeDecls = a: c:
    if isOption a || isOption c then throw "option declared twice"
    else a // b.mapAttrs (n: v: if a ? ${n} then mergeDecls a.${n} v else v) c;

  evalModules = { modules, specialArgs ? { } }:
    let
      args = specialArgs // { inherit lib config; };
      load = m:
        let
          f = if b.isPath m || b.isString m then import m else m;
          r = if b.isFunction f then f args else f;
          # As in nixpkgs: without `options` or `config`, everything but
          # `imports` is config.
          structured = r ? options || r ? config;
          own = {
            options = r.options or { };
            config = if structured then r.config or { } else b.removeAttrs r [ "imports" "_file" "key" ];
          };
        in
        [ own ] ++ concatMap load (r.imports or [ ]);
      loaded = concatMap load modules;
      decls = b.foldl' mergeDecls { } (map (m: m.options) loaded);
      config = evalTree [ ] decls (map (m: { value = m.config; }) loaded);
    in
    { inherit config; options = decls; };

  lib = {
    inherit optionalAttrs optional optionals concatStringsSep concatMap hasPrefix
      hasSuffix removeSuffix mapAttrsToList genAttrs escapeShellArg fileContents
      any toList mkIf mkMerge mkOverride mkDefault mkForce types mkOption
      mkEnableOption literalExpression evalModules;
    inherit (b) replaceStrings;
    licenses.bsd2 = "bsd2";
    platforms = { linux = [ "x86_64-linux" "aarch64-linux" ]; darwin = [ "x86_64-darwin" "aarch64-darwin" ]; };
  };
in
lib
