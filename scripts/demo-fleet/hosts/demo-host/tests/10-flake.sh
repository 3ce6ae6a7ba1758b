#!/bin/sh
# Passes: the checkout has its flake and lock (a test runs in the
# repository directory).
test -f flake.nix && test -f flake.lock || exit 1
echo "flake.nix and flake.lock present at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
