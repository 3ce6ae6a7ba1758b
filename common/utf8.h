/*
 * utf8.h: where a byte string may be cut without splitting a character.
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/*
 * The length of s[0..len) without a multi-byte sequence that is still
 * incomplete at its end: a cut there splits no character.  Invalid
 * bytes are not judged here (they are replaced when encoded); a tail
 * that cannot be completed is kept.
 */
size_t	utf8_whole(const char *s, size_t len);

#endif
