/*
 * What every libFuzzer harness here shares: a reader that takes typed
 * fields off the front of the fuzzer's input (zeros once it runs out, so
 * every input is usable), and FUZZ_CHECK, an invariant that aborts with a
 * message (libFuzzer records the input that broke it as a crash).
 */
#ifndef RTVIRT_FUZZ_H
#define RTVIRT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,       \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

struct fuzz_in {
    const uint8_t *p;
    size_t         n;
};

/* Copies up to len bytes into dst, zero-filling what the input lacks. */
static inline void fuzz_take(struct fuzz_in *in, void *dst, size_t len)
{
    size_t k = len < in->n ? len : in->n;

    memcpy(dst, in->p, k);
    memset((uint8_t *)dst + k, 0, len - k);
    in->p += k;
    in->n -= k;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{ uint8_t v; fuzz_take(in, &v, sizeof(v)); return v; }
static inline uint16_t fuzz_u16(struct fuzz_in *in)
{ uint16_t v; fuzz_take(in, &v, sizeof(v)); return v; }
static inline uint32_t fuzz_u32(struct fuzz_in *in)
{ uint32_t v; fuzz_take(in, &v, sizeof(v)); return v; }
static inline uint64_t fuzz_u64(struct fuzz_in *in)
{ uint64_t v; fuzz_take(in, &v, sizeof(v)); return v; }

/* The next string: bytes up to a NUL (or the end of the input), as a
 * malloc'd NUL-terminated copy; NULL (an absent node) when the input is
 * exhausted or the string starts with 0xff. */
static inline char *fuzz_str(struct fuzz_in *in)
{
    const uint8_t *end;
    size_t len;
    char *s;

    if (in->n == 0)
        return NULL;
    if (in->p[0] == 0xff) {
        in->p++;
        in->n--;
        return NULL;
    }
    end = memchr(in->p, 0, in->n);
    len = end ? (size_t)(end - in->p) : in->n;
    s = malloc(len + 1);
    if (s == NULL)
        abort();
    memcpy(s, in->p, len);
    s[len] = '\0';
    in->p += len + (end != NULL);
    in->n -= len + (end != NULL);
    return s;
}

#endif
