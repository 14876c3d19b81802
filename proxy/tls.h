/* The first bytes of a CONNECT tunnel: is it a TLS ClientHello, and which server does it name?
 * Pure parsing of bytes from sandboxed programs: bounded, no allocation.
 *
 * tls_client_hello_sni returns 1 when p holds a complete ClientHello in its first record (sni
 * receives its server_name, lower case, without a trailing dot; "" when it has none), 0 when more
 * bytes are needed (n < TLS_HELLO_MAX), -1 with *err when the bytes are not a TLS handshake
 * record, the ClientHello is malformed, spans records, or names an invalid server. */
#ifndef ISOL8_PROXY_TLS_H
#define ISOL8_PROXY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define TLS_HELLO_MAX (5u + 16384u) /* one record */

int tls_client_hello_sni(const uint8_t *p, size_t n, char sni[254], struct isol8_err *err);

#endif
