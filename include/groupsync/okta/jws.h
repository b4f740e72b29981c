/*
 * okta/jws: the signed tokens groupsync makes for Okta: the
 * private_key_jwt client assertion and DPoP proofs (RFC 9449), JWS RS256
 * or ES256; loading the configured private key and making the in-memory
 * DPoP key pair.
 *
 * Ownership: functions returning char * return a malloc'd string the
 * caller frees; NULL means failure (allocation, signing, bad input). Keys
 * are freed with EVP_PKEY_free. Threads: all reentrant.
 */
#ifndef GROUPSYNC_OKTA_JWS_H
#define GROUPSYNC_OKTA_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Loads a PEM private key (RSA >= 2048 or EC P-256); NULL + err. */
EVP_PKEY *okta_key_load(const char *pem, char *err, size_t errlen);

/* A fresh EC P-256 key pair for DPoP, kept in memory only. */
EVP_PKEY *okta_dpop_keygen(void);

/*
 * The private_key_jwt client assertion: header {alg RS256|ES256, typ JWT,
 * kid when set}, claims iss = sub = client_id, aud, iat = now_s,
 * exp = iat + 300, random jti. ES256 signatures are raw R||S.
 */
char *okta_jwt_assertion(EVP_PKEY *key, const char *kid, const char *client_id,
    const char *aud, int64_t now_s);

/*
 * A DPoP proof (RFC 9449) signed ES256 with key, its public JWK in the
 * header; claims htm, htu (url without query or fragment), iat, jti,
 * nonce when not NULL, ath = base64url(SHA-256(access_token)) when not NULL.
 */
char *okta_dpop_proof(EVP_PKEY *key, const char *htm, const char *url, const char *nonce,
    const char *access_token, int64_t now_s);

#endif
