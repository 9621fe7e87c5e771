// SHA-256 from OpenSSL's libcrypto (Debian's libssl-dev). The low-level SHA256_Init/Update/Final
// calls are deprecated in OpenSSL 3 in favour of EVP, which looks the digest up and allocates on
// every call; the event id is hashed on the hot path, so tern keeps the direct calls.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
