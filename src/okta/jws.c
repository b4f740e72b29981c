/*
 * okta/jws: JWS signing for Okta (RS256 and ES256), the private_key_jwt
 * client assertion, DPoP proofs (RFC 9449) and their in-memory EC key,
 * and loading the configured private key (see groupsync/okta/jws.h).
 */
#include "groupsync/okta/jws.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "groupsync/base/base64.h"
#include "groupsync/base/util.h"

#define OKTA_ASSERTION_TTL 300       /* s; Okta accepts at most an hour */
#define OKTA_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* base64url of in, malloc'd; NULL on failure. */
static char *
okta_b64url_dup(const void *in, size_t n)
{
	size_t len = base64_len(BASE64_URL, n) + 1;
	char *s = malloc(len);

	if (s != NULL && base64_encode(BASE64_URL, in, n, s, len) < 0) {
		free(s);
		s = NULL;
	}
	return s;
}

/* Adds v under key, taking ownership of v; -1 (v freed) on failure. */
static int
okta_jset(json_object *o, const char *key, json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* A random jti: 128 bits, so two assertions never share one. */
static int
okta_jti(char *out, size_t outlen)
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	return base64_encode(BASE64_URL, r, sizeof(r), out, outlen) < 0 ? -1 : 0;
}

/* JWS ES256 wants the raw 32-byte R and S, not OpenSSL's DER encoding. */
static int
okta_ecdsa_raw(const unsigned char *der, size_t derlen, unsigned char out[64])
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int ok;

	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok ? 0 : -1;
}

/* SHA-256 signature of data with key; *sig is malloc'd. */
static int
okta_sign(EVP_PKEY *key, const char *data, size_t len, unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	size_t n = 0;
	int rc = -1;

	*sig = NULL;
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)data, len) != 1)
		goto out;
	der = malloc(n);
	if (der == NULL || EVP_DigestSign(ctx, der, &n, (const unsigned char *)data, len) != 1)
		goto out;
	if (EVP_PKEY_is_a(key, "EC")) {
		*sig = malloc(64);
		if (*sig == NULL || okta_ecdsa_raw(der, n, *sig) < 0)
			goto out;
		*siglen = 64;
	} else {
		*sig = der;
		*siglen = n;
		der = NULL;
	}
	rc = 0;
out:
	if (rc < 0) {
		free(*sig);
		*sig = NULL;
		ERR_clear_error();
	}
	free(der);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* header.claims.signature, each part base64url of its JSON. */
static char *
okta_jwt_sign(EVP_PKEY *key, json_object *header, json_object *claims)
{
	const char *hj = json_object_to_json_string_ext(header, OKTA_JSON_FLAGS);
	const char *cj = json_object_to_json_string_ext(claims, OKTA_JSON_FLAGS);
	char *h = NULL, *c = NULL, *s = NULL, *input = NULL, *jwt = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, n;

	if (hj == NULL || cj == NULL)
		return NULL;
	h = okta_b64url_dup(hj, strlen(hj));
	c = okta_b64url_dup(cj, strlen(cj));
	if (h == NULL || c == NULL)
		goto out;
	n = strlen(h) + 1 + strlen(c);
	input = malloc(n + 1);
	if (input == NULL || util_format(input, n + 1, "%s.%s", h, c) < 0 ||
	    okta_sign(key, input, n, &sig, &siglen) < 0)
		goto out;
	s = okta_b64url_dup(sig, siglen);
	if (s == NULL)
		goto out;
	jwt = malloc(n + 1 + strlen(s) + 1);
	if (jwt != NULL)
		util_format(jwt, n + 1 + strlen(s) + 1, "%s.%s", input, s);
out:
	free(h);
	free(c);
	free(s);
	free(input);
	free(sig);
	return jwt;
}

/* Signs header and claims unless building them failed (bad), and frees
 * both either way: the JWT, or NULL. */
static char *
okta_jwt_finish(EVP_PKEY *key, json_object *h, json_object *c, int bad)
{
	char *jwt = bad ? NULL : okta_jwt_sign(key, h, c);

	json_object_put(h);
	json_object_put(c);
	return jwt;
}

char *
okta_jwt_assertion(EVP_PKEY *key, const char *kid, const char *client_id, const char *aud,
    int64_t now_s)
{
	json_object *h = json_object_new_object(), *c = json_object_new_object();
	char jti[32];
	int bad;

	bad = h == NULL || c == NULL || okta_jti(jti, sizeof(jti)) < 0;
	if (bad)
		return okta_jwt_finish(key, h, c, bad);
	bad |= okta_jset(h, "alg", json_object_new_string(EVP_PKEY_is_a(key, "EC") ?
	    "ES256" : "RS256"));
	bad |= okta_jset(h, "typ", json_object_new_string("JWT"));
	if (kid != NULL)
		bad |= okta_jset(h, "kid", json_object_new_string(kid));
	bad |= okta_jset(c, "iss", json_object_new_string(client_id));
	bad |= okta_jset(c, "sub", json_object_new_string(client_id));
	bad |= okta_jset(c, "aud", json_object_new_string(aud));
	bad |= okta_jset(c, "iat", json_object_new_int64(now_s));
	bad |= okta_jset(c, "exp", json_object_new_int64(now_s + OKTA_ASSERTION_TTL));
	bad |= okta_jset(c, "jti", json_object_new_string(jti));
	return okta_jwt_finish(key, h, c, bad);
}

/* The public half of the DPoP key as a JWK (RFC 7518 section 6.2.1). */
static json_object *
okta_dpop_jwk(EVP_PKEY *key)
{
	BIGNUM *x = NULL, *y = NULL;
	unsigned char bx[32], by[32];
	char sx[48], sy[48];
	json_object *jwk = NULL;
	int bad;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, bx, 32) != 32 || BN_bn2binpad(y, by, 32) != 32 ||
	    base64_encode(BASE64_URL, bx, 32, sx, sizeof(sx)) < 0 ||
	    base64_encode(BASE64_URL, by, 32, sy, sizeof(sy)) < 0)
		goto out;
	jwk = json_object_new_object();
	if (jwk == NULL)
		goto out;
	bad = okta_jset(jwk, "kty", json_object_new_string("EC"));
	bad |= okta_jset(jwk, "crv", json_object_new_string("P-256"));
	bad |= okta_jset(jwk, "x", json_object_new_string(sx));
	bad |= okta_jset(jwk, "y", json_object_new_string(sy));
	if (bad) {
		json_object_put(jwk);
		jwk = NULL;
	}
out:
	BN_free(x);
	BN_free(y);
	return jwk;
}

/* ath: base64url(SHA-256(the access token as sent)), RFC 9449 4.2. */
static int
okta_ath(const char *token, char *out, size_t outlen)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return -1;
	return base64_encode(BASE64_URL, md, mdlen, out, outlen) < 0 ? -1 : 0;
}

char *
okta_dpop_proof(EVP_PKEY *key, const char *htm, const char *url, const char *nonce,
    const char *access_token, int64_t now_s)
{
	json_object *h = json_object_new_object(), *c = json_object_new_object();
	char jti[32], ath[48];
	int bad;

	bad = h == NULL || c == NULL || okta_jti(jti, sizeof(jti)) < 0 ||
	    (access_token != NULL && okta_ath(access_token, ath, sizeof(ath)) < 0);
	if (bad)
		return okta_jwt_finish(key, h, c, bad);
	bad |= okta_jset(h, "typ", json_object_new_string("dpop+jwt"));
	bad |= okta_jset(h, "alg", json_object_new_string("ES256"));
	bad |= okta_jset(h, "jwk", okta_dpop_jwk(key));
	bad |= okta_jset(c, "htm", json_object_new_string(htm));
	/* htu is the URL without query and fragment (RFC 9449 4.2). */
	bad |= okta_jset(c, "htu", json_object_new_string_len(url, (int)strcspn(url, "?#")));
	bad |= okta_jset(c, "iat", json_object_new_int64(now_s));
	bad |= okta_jset(c, "jti", json_object_new_string(jti));
	if (nonce != NULL)
		bad |= okta_jset(c, "nonce", json_object_new_string(nonce));
	if (access_token != NULL)
		bad |= okta_jset(c, "ath", json_object_new_string(ath));
	return okta_jwt_finish(key, h, c, bad);
}

/* An encrypted key is a configuration error, never a terminal prompt. */
static int
okta_no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

EVP_PKEY *
okta_key_load(const char *pem, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	char group[32] = "";
	int ok = 0;

	if (bio != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, okta_no_passphrase, NULL);
	BIO_free(bio);
	if (key != NULL && EVP_PKEY_is_a(key, "RSA"))
		ok = EVP_PKEY_get_bits(key) >= 2048;
	else if (key != NULL && EVP_PKEY_is_a(key, "EC"))
		ok = EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		    sizeof(group), NULL) == 1 && strcmp(group, "prime256v1") == 0;
	ERR_clear_error();
	if (ok)
		return key;
	EVP_PKEY_free(key);
	util_format(err, errlen, "GROUPSYNC_OKTA_PRIVATE_KEY: not an RSA (2048 bits or more) "
	    "or EC P-256 private key");
	return NULL;
}

EVP_PKEY *
okta_dpop_keygen(void)
{
	return EVP_EC_gen("P-256");
}
