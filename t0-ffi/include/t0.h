/* t0: the C ABI. Generated from t0-ffi by cbindgen. */
#ifndef T0_H
#define T0_H

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the library version as a static NUL-terminated string. Never NULL; do not free. */
const char *t0_version(void);

#ifdef __cplusplus
}
#endif

#endif /* T0_H */
