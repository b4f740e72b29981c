/*
 * Unit tests of okta: JWT client assertions (RS256, ES256) and
 * DPoP proofs checked with OpenSSL independently of the code under test,
 * Link and rate-limit header parsing, error bodies, classification; and
 * end-to-end calls through the real http.c against a loopback server
 * thread that answers like Okta (token endpoint, DPoP nonce handshake,
 * 429 and headroom deferral, token caching, paging).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "unit.h"
#include "http_test_server.h"

#include "groupsync/base/config.h"
#include "groupsync/base/http.h"
#include "groupsync/base/util.h"
#include "groupsync/okta/client.h"
#include "groupsync/okta/jws.h"
#include "groupsync/okta/rate.h"
#include "groupsync/okta/response.h"

#define ORIGIN "https://example.okta.com"
#define TOKEN_URL ORIGIN "/oauth2/v1/token"
#define SSWS_TOKEN "00ssws-token-for-tests-0123456789"
#define SCOPES "okta.users.read okta.users.manage okta.groups.read"

/* ---- independent helpers (no code under test) --------------------------- */


/* base64url decode; -1 on a bad character or overflow (no asserts: the
 * server thread uses it too). */
static long
b64url_decode(const char *s, size_t n, unsigned char *out, size_t outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		const char *p = s[i] ? strchr(tab, s[i]) : NULL;
		if (p == NULL)
			return -1;
		acc = (acc << 6 | (uint32_t)(p - tab)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

static json_object *
jwt_part_try(const char *s, size_t n)
{
	unsigned char buf[8192];
	long len = b64url_decode(s, n, buf, sizeof(buf) - 1);

	if (len < 0)
		return NULL;
	buf[len] = '\0';
	return json_tokener_parse((char *)buf);
}

/* The claims of a JWT, NULL when it is not one (for the server thread). */
static json_object *
jwt_claims_try(const char *tok, size_t n)
{
	const char *d1 = memchr(tok, '.', n), *d2;

	if (d1 == NULL)
		return NULL;
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok));
	return d2 ? jwt_part_try(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
}

struct jwt {
	json_object *header, *claims;
	unsigned char sig[1024];
	size_t siglen;
	char input[8192]; /* header.claims: what was signed */
};

static void
jwt_parse(const char *tok, struct jwt *j)
{
	const char *d1 = strchr(tok, '.'), *d2;
	long n;

	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));
	assert_null(strchr(tok, '=')); /* no padding */
	j->header = jwt_part_try(tok, (size_t)(d1 - tok));
	j->claims = jwt_part_try(d1 + 1, (size_t)(d2 - d1 - 1));
	assert_non_null(j->header);
	assert_non_null(j->claims);
	n = b64url_decode(d2 + 1, strlen(d2 + 1), j->sig, sizeof(j->sig));
	assert_true(n > 0);
	j->siglen = (size_t)n;
	assert_true((size_t)(d2 - tok) < sizeof(j->input));
	memcpy(j->input, tok, (size_t)(d2 - tok));
	j->input[d2 - tok] = '\0';
}

static void
jwt_free(struct jwt *j)
{
	json_object_put(j->header);
	json_object_put(j->claims);
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t
jint(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static int
jhas(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* Verifies a JWS with OpenSSL; ES256's R||S is turned back into DER. */
static int
jwt_verify(EVP_PKEY *pub, const struct jwt *j)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const unsigned char *sig = j->sig;
	unsigned char *der = NULL;
	size_t siglen = j->siglen;
	ECDSA_SIG *es;
	int ok, n;

	if (EVP_PKEY_is_a(pub, "EC")) {
		assert_int_equal(j->siglen, 64);
		es = ECDSA_SIG_new();
		assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(j->sig, 32, NULL),
		    BN_bin2bn(j->sig + 32, 32, NULL)), 1);
		n = i2d_ECDSA_SIG(es, &der);
		assert_true(n > 0);
		ECDSA_SIG_free(es);
		sig = der;
		siglen = (size_t)n;
	}
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)j->input,
	    strlen(j->input)) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok;
}

/* The public half only, through PEM, as Okta would hold it. */
static EVP_PKEY *
public_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	EVP_PKEY *pub;

	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(pub);
	return pub;
}

static char *
pem_of(EVP_PKEY *k, const EVP_CIPHER *cipher)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	char *s;

	assert_int_equal(PEM_write_bio_PrivateKey(b, k, cipher, NULL, 0, NULL,
	    cipher ? (void *)"passphrase" : NULL), 1);
	BIO_get_mem_ptr(b, &m);
	s = strndup(m->data, m->length);
	BIO_free(b);
	return s;
}

/* The EC public key a DPoP header's jwk describes. */
static EVP_PKEY *
jwk_key(json_object *jwk, unsigned char xy[64])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	unsigned char pub[65];
	OSSL_PARAM *params;
	EVP_PKEY *k = NULL;

	assert_string_equal(jstr(jwk, "kty"), "EC");
	assert_string_equal(jstr(jwk, "crv"), "P-256");
	assert_false(jhas(jwk, "d")); /* never the private part */
	pub[0] = 4;
	assert_int_equal(b64url_decode(jstr(jwk, "x"), strlen(jstr(jwk, "x")), pub + 1, 32), 32);
	assert_int_equal(b64url_decode(jstr(jwk, "y"), strlen(jstr(jwk, "y")), pub + 33, 32), 32);
	memcpy(xy, pub + 1, 64);
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* The key's own public coordinates, read with OpenSSL. */
static void
key_xy(EVP_PKEY *k, unsigned char xy[64])
{
	BIGNUM *x = NULL, *y = NULL;

	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
	assert_int_equal(BN_bn2binpad(x, xy, 32), 32);
	assert_int_equal(BN_bn2binpad(y, xy + 32, 32), 32);
	BN_free(x);
	BN_free(y);
}

/* ath computed here: SHA-256 of the token, compared as raw bytes. */
static void
check_ath(const char *ath, const char *token)
{
	unsigned char want[32], got[64];
	unsigned int n = 0;

	assert_non_null(ath);
	assert_int_equal(EVP_Digest(token, strlen(token), want, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(strlen(ath), 43);
	assert_int_equal(b64url_decode(ath, strlen(ath), got, sizeof(got)), 32);
	assert_memory_equal(got, want, 32);
}

static char *
read_sample(const char *name)
{
	char path[512];
	FILE *f;
	long n;
	char *s;

	snprintf(path, sizeof(path), "%s/okta/samples/%s", GS_TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* ---- JWT client assertion ------------------------------------------------ */

static void
check_assertion(EVP_PKEY *k, const char *alg, const char *kid)
{
	int64_t now = (int64_t)time(NULL);
	char *a1 = okta_jwt_assertion(k, kid, "0oaclient", TOKEN_URL, now);
	char *a2 = okta_jwt_assertion(k, kid, "0oaclient", TOKEN_URL, now);
	EVP_PKEY *pub = public_of(k);
	struct jwt j1, j2;

	assert_non_null(a1);
	assert_non_null(a2);
	jwt_parse(a1, &j1);
	jwt_parse(a2, &j2);
	assert_string_equal(jstr(j1.header, "alg"), alg);
	assert_string_equal(jstr(j1.header, "typ"), "JWT");
	if (kid != NULL)
		assert_string_equal(jstr(j1.header, "kid"), kid);
	else
		assert_false(jhas(j1.header, "kid"));
	assert_string_equal(jstr(j1.claims, "iss"), "0oaclient");
	assert_string_equal(jstr(j1.claims, "sub"), "0oaclient");
	assert_string_equal(jstr(j1.claims, "aud"), TOKEN_URL);
	assert_int_equal(jint(j1.claims, "iat"), now);
	assert_true(jint(j1.claims, "exp") > now);
	assert_true(jint(j1.claims, "exp") <= now + 3600);
	assert_non_null(jstr(j1.claims, "jti"));
	assert_true(strlen(jstr(j1.claims, "jti")) >= 16);
	assert_string_not_equal(jstr(j1.claims, "jti"), jstr(j2.claims, "jti"));
	assert_true(jwt_verify(pub, &j1));
	assert_true(jwt_verify(pub, &j2));
	j1.input[strlen(j1.input) - 1] ^= 1; /* the check can fail */
	assert_false(jwt_verify(pub, &j1));
	jwt_free(&j1);
	jwt_free(&j2);
	EVP_PKEY_free(pub);
	free(a1);
	free(a2);
}

static void
jwt_assertion_rs256(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	(void)state;
	check_assertion(k, "RS256", "kid-1");
	EVP_PKEY_free(k);
}

static void
jwt_assertion_es256(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	int i;

	(void)state;
	/* R or S with leading zero bytes must still be 32 bytes each. */
	for (i = 0; i < 20; i++)
		check_assertion(k, "ES256", NULL);
	EVP_PKEY_free(k);
}

static void
key_load_rules(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *small = EVP_RSA_gen(1024);
	EVP_PKEY *p256 = EVP_EC_gen("P-256"), *p384 = EVP_EC_gen("P-384"), *k;
	char *pem, err[256];

	(void)state;
	pem = pem_of(rsa, NULL);
	k = okta_key_load(pem, err, sizeof(err));
	assert_non_null(k);
	EVP_PKEY_free(k);
	free(pem);
	pem = pem_of(p256, NULL);
	k = okta_key_load(pem, err, sizeof(err));
	assert_non_null(k);
	EVP_PKEY_free(k);
	free(pem);
	pem = pem_of(small, NULL);
	assert_null(okta_key_load(pem, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_OKTA_PRIVATE_KEY"));
	free(pem);
	pem = pem_of(p384, NULL);
	assert_null(okta_key_load(pem, err, sizeof(err)));
	free(pem);
	/* Encrypted: refused, never a passphrase prompt. */
	pem = pem_of(rsa, EVP_aes_128_cbc());
	assert_null(okta_key_load(pem, err, sizeof(err)));
	free(pem);
	assert_null(okta_key_load("not a key", err, sizeof(err)));
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(small);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
}

/* ---- DPoP proofs ------------------------------------------------------------ */

/* Checks header, jwk (against key when given) and signature; returns the
 * parsed proof for claim checks. */
static void
check_proof(const char *proof, EVP_PKEY *key, struct jwt *j)
{
	unsigned char jx[64], kx[64];
	json_object *jwk;
	EVP_PKEY *pub;

	jwt_parse(proof, j);
	assert_string_equal(jstr(j->header, "typ"), "dpop+jwt");
	assert_string_equal(jstr(j->header, "alg"), "ES256");
	assert_true(json_object_object_get_ex(j->header, "jwk", &jwk));
	pub = jwk_key(jwk, jx);
	if (key != NULL) {
		key_xy(key, kx);
		assert_memory_equal(jx, kx, 64);
	}
	assert_true(jwt_verify(pub, j));
	EVP_PKEY_free(pub);
	assert_non_null(jstr(j->claims, "jti"));
	assert_true(llabs((long long)(jint(j->claims, "iat") - (int64_t)time(NULL))) <= 5);
}

static void
dpop_proof_claims(void **state)
{
	EVP_PKEY *k = okta_dpop_keygen();
	char *p1, *p2;
	struct jwt j1, j2;

	(void)state;
	assert_non_null(k);
	p1 = okta_dpop_proof(k, "GET", ORIGIN "/api/v1/users/00u1?limit=2#frag", "nonce-1",
	    "at.token-value", (int64_t)time(NULL));
	p2 = okta_dpop_proof(k, "GET", ORIGIN "/api/v1/users/00u1", "nonce-1",
	    "at.token-value", (int64_t)time(NULL));
	assert_non_null(p1);
	assert_non_null(p2);
	check_proof(p1, k, &j1);
	check_proof(p2, k, &j2);
	assert_string_equal(jstr(j1.claims, "htm"), "GET");
	assert_string_equal(jstr(j1.claims, "htu"), ORIGIN "/api/v1/users/00u1");
	assert_string_equal(jstr(j1.claims, "nonce"), "nonce-1");
	check_ath(jstr(j1.claims, "ath"), "at.token-value");
	assert_string_not_equal(jstr(j1.claims, "jti"), jstr(j2.claims, "jti"));
	jwt_free(&j1);
	jwt_free(&j2);
	free(p1);
	free(p2);
	EVP_PKEY_free(k);
}

static void
dpop_proof_token_request(void **state)
{
	EVP_PKEY *k = okta_dpop_keygen();
	char *p = okta_dpop_proof(k, "POST", TOKEN_URL, NULL, NULL, (int64_t)time(NULL));
	struct jwt j;

	(void)state;
	assert_non_null(p);
	check_proof(p, k, &j);
	assert_string_equal(jstr(j.claims, "htm"), "POST");
	assert_string_equal(jstr(j.claims, "htu"), TOKEN_URL);
	assert_false(jhas(j.claims, "nonce"));
	assert_false(jhas(j.claims, "ath"));
	jwt_free(&j);
	free(p);
	EVP_PKEY_free(k);
}

/* ---- Link headers ------------------------------------------------------------ */

static void fake(struct http_response *r, long status, const char *headers,
    int64_t retry_after_ms);

static int
link_next(const char *headers, char *out, size_t len)
{
	struct http_response r;

	fake(&r, 200, headers, 0);
	return okta_parse_link_next(&r, ORIGIN, out, len);
}

static void
link_one_header_several(void **state)
{
	char out[OKTA_URL_MAX];

	(void)state;
	assert_int_equal(link_next("HTTP/1.1 200 OK\r\n"
	    "Link: <" ORIGIN "/api/v1/groups/00g/users?limit=200>; rel=\"self\", "
	    "<" ORIGIN "/api/v1/groups/00g/users?after=00u5&limit=200>; rel=\"next\"\r\n"
	    "\r\n", out, sizeof(out)), 1);
	assert_string_equal(out, ORIGIN "/api/v1/groups/00g/users?after=00u5&limit=200");
	/* next first, unquoted rel, extra parameters, odd spacing */
	assert_int_equal(link_next("Link:<" ORIGIN "/a?after=1>;rel=next ;title=\"x, y\","
	    "<" ORIGIN "/a>; rel=self\r\n", out, sizeof(out)), 1);
	assert_string_equal(out, ORIGIN "/a?after=1");
	/* several relation types in one rel */
	assert_int_equal(link_next("link: <" ORIGIN "/b>; rel=\"prev\", <" ORIGIN "/c>; "
	    "rel=\"last NEXT\"\r\n", out, sizeof(out)), 1);
	assert_string_equal(out, ORIGIN "/c");
}

static void
link_several_headers(void **state)
{
	char out[OKTA_URL_MAX];

	(void)state;
	assert_int_equal(link_next("HTTP/1.1 200 OK\r\n"
	    "Link: <" ORIGIN "/api/v1/users/00u1/groups>; rel=\"self\"\r\n"
	    "Content-Type: application/json\r\n"
	    "LINK: <" ORIGIN "/api/v1/users/00u1/groups?after=00g2>; rel=\"next\"\r\n"
	    "\r\n", out, sizeof(out)), 1);
	assert_string_equal(out, ORIGIN "/api/v1/users/00u1/groups?after=00g2");
}

static void
link_none(void **state)
{
	char out[OKTA_URL_MAX];

	(void)state;
	assert_int_equal(link_next("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
	    out, sizeof(out)), 0);
	assert_int_equal(link_next("Link: <" ORIGIN "/a>; rel=\"self\"\r\n", out, sizeof(out)), 0);
	assert_int_equal(link_next("", out, sizeof(out)), 0);
	/* "X-Link" is not "Link" */
	assert_int_equal(link_next("X-Link: <" ORIGIN "/a>; rel=\"next\"\r\n", out, sizeof(out)), 0);
}

static void
link_refused(void **state)
{
	static const char *const bad[] = {
		"Link: <https://evil.example.com/api/v1/groups?after=1>; rel=\"next\"\r\n",
		"Link: <" ORIGIN ".evil.com/api?after=1>; rel=\"next\"\r\n",
		"Link: <" ORIGIN "@evil.com/api?after=1>; rel=\"next\"\r\n",
		"Link: <" ORIGIN ":8443/api?after=1>; rel=\"next\"\r\n",
		"Link: <http://example.okta.com/api?after=1>; rel=\"next\"\r\n",
		"Link: </api/v1/groups/00g/users?after=1>; rel=\"next\"\r\n",
		"Link: <api/v1/groups/00g/users?after=1>; rel=\"next\"\r\n",
		"Link: <" ORIGIN ">; rel=\"next\"\r\n",
		"Link: <" ORIGIN "/a b>; rel=\"next\"\r\n",
		"Link: " ORIGIN "/a; rel=\"next\"\r\n",
		"Link: <" ORIGIN "/a; rel=\"next\"\r\n",
		"Link: <" ORIGIN "/a>; rel=\"next\r\n",
		"Link: <" ORIGIN "/a> junk; rel=\"next\"\r\n",
	};
	char out[OKTA_URL_MAX], small[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (link_next(bad[i], out, sizeof(out)) != -1)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(link_next("Link: <" ORIGIN "/long>; rel=\"next\"\r\n", small,
	    sizeof(small)), -1);
	/* the host compares case-insensitively */
	assert_int_equal(link_next("Link: <HTTPS://EXAMPLE.okta.com/a>; rel=\"next\"\r\n", out,
	    sizeof(out)), 1);
}

/* ---- rate limits ------------------------------------------------------------- */

/* A response as http_do leaves it, headers given as raw text (kept in a
 * static: one fake at a time). */
static void
fake(struct http_response *r, long status, const char *headers, int64_t retry_after_ms)
{
	static struct raw_headers h;

	raw_split(&h, headers);
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->headers = h.f;
	r->nheaders = h.n;
	r->body = (char *)"";
	r->retry_after_ms = retry_after_ms;
}

static char *
rate_headers(char *buf, size_t len, long limit, long remaining, long long reset)
{
	snprintf(buf, len, "HTTP/1.1 200 OK\r\nX-Rate-Limit-Limit: %ld\r\n"
	    "X-Rate-Limit-Remaining: %ld\r\nX-Rate-Limit-Reset: %lld\r\n\r\n",
	    limit, remaining, reset);
	return buf;
}

/* An injected clock: the start of an aligned 2-second window. */
#define T0 INT64_C(1700000000000)

/* Teaches r the answer of one call of bucket b at now. */
static int64_t
learn(struct okta_rate *r, enum okta_bucket b, long status, long limit, long rem,
    long long reset_s, int64_t now)
{
	struct http_response resp;
	char h[256];

	fake(&resp, status, rate_headers(h, sizeof(h), limit, rem, reset_s), 0);
	return okta_rate_update(r, b, &resp, now);
}

/* A bucket whose first call (at now) learnt limit and a window ending at reset_s. */
static void
known(struct okta_rate *r, enum okta_bucket b, long limit, long long reset_s, int64_t now)
{
	int64_t at;

	assert_int_equal(okta_rate_reserve(r, b, now, &at), OKTA_RATE_GO);
	assert_int_equal(at, now);
	learn(r, b, 200, limit, limit - 1, reset_s, now);
}

static void
bucket_map(void **state)
{
	static const struct { const char *method, *url, *bucket; } v[] = {
		{"GET", ORIGIN "/api/v1/users/00u1", "users-id-get"},
		{"GET", "/api/v1/users/jane%40example.com", "users-id-get"},
		{"POST", ORIGIN "/api/v1/users/00u1", "users-id-write"},
		{"PUT", "/api/v1/users/00u1", "users-id-write"},
		{"DELETE", "/api/v1/users/00u1?sendEmail=false", "users-id-write"},
		{"GET", ORIGIN "/api/v1/users?limit=200", "users"},
		{"POST", "/api/v1/users", "users"},
		{"GET", ORIGIN "/api/v1/users/00u1/groups", "api"},
		{"POST", "/api/v1/users/00u1/lifecycle/activate", "api"},
		{"GET", "/api/v1/groups", "groups"},
		{"GET", "/api/v1/groups?q=sync", "groups"},
		{"GET", ORIGIN "/api/v1/groups/00g1/users?limit=200", "groups"},
		{"PUT", "/api/v1/groups/00g1/users/00u1", "groups"},
		{"GET", ORIGIN "/api/v1/groups/00g1", "groups-id"},
		{"GET", "/api/v1/groups/00g1/", "groups-id"},
		{"GET", "/api/v1/meta/schemas/user/default", "api"},
		{"POST", "/api/v1/eventHooks", "api"},
		{"GET", "/api/v1/usersX/1", "api"},
		{"POST", ORIGIN "/oauth2/v1/token", "oauth2-token"},
		{"GET", ORIGIN "/oauth2/v1/keys", "api"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(okta_bucket_name(okta_bucket_of(v[i].method, v[i].url)), v[i].bucket) != 0)
			fail_msg("%s %s: %s, want %s", v[i].method, v[i].url,
			    okta_bucket_name(okta_bucket_of(v[i].method, v[i].url)), v[i].bucket);
}

static void
rate_headers_parsed(void **state)
{
	struct okta_rate r;
	struct http_response resp;
	char h[256];
	int64_t now = T0, at = 0;

	(void)state;
	okta_rate_init(&r, 50, 10);
	fake(&resp, 200, rate_headers(h, sizeof(h), 600, 599, now / 1000 + 60), 0);
	assert_int_equal(okta_rate_update(&r, OKTA_BUCKET_USERS_ID_GET, &resp, now), 0);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_GET].limit, 600);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_GET].remaining, 599);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_GET].reset_ms, now + 60000);
	assert_int_equal(atomic_load(&r.last_remaining), 599);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_GET, now, &at), OKTA_RATE_GO);
	/* garbage headers are ignored, not zero */
	fake(&resp, 200, "X-Rate-Limit-Remaining: lots\r\nX-Rate-Limit-Limit: -5\r\n", 0);
	assert_int_equal(okta_rate_update(&r, OKTA_BUCKET_USERS_ID_GET, &resp, now), 0);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_GET].remaining, 599);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_GET].limit, 600);
	assert_int_equal(atomic_load(&r.deferred), 0);
	okta_rate_destroy(&r);
}

static void
rate_headroom(void **state)
{
	static const struct { long limit, rem; int blocks; } v[] = {
		{100, 11, 0}, {100, 10, 1}, {100, 3, 1}, {100, 0, 1},
		{10, 3, 0}, {10, 2, 1}, {25, 3, 0}, {25, 2, 1},
		{1000, 101, 0}, {1000, 100, 1}, {0, 2, 1}, {0, 3, 0},
	};
	struct okta_rate r;
	int64_t now = T0, reset = now / 1000 + 30, at, got;
	enum okta_rate_verdict verdict;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		okta_rate_init(&r, 50, 10);
		got = learn(&r, OKTA_BUCKET_GROUPS, 200, v[i].limit, v[i].rem, reset, now);
		at = 0;
		verdict = okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, now, &at);
		if (v[i].blocks != (verdict == OKTA_RATE_BLOCKED))
			fail_msg("limit %ld remaining %ld: blocks should be %d", v[i].limit,
			    v[i].rem, v[i].blocks);
		if (v[i].blocks) {
			assert_int_equal(got, at);
			assert_int_equal(at, reset * 1000);
			assert_int_not_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, at, &got),
			    OKTA_RATE_BLOCKED);
			/* other buckets go on */
			assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_GET, now, &got),
			    OKTA_RATE_GO);
		}
		okta_rate_destroy(&r);
	}
	/* a reset already past cannot be waited for */
	okta_rate_init(&r, 50, 10);
	assert_int_equal(learn(&r, OKTA_BUCKET_USERS_ID_GET, 200, 100, 0, now / 1000 - 5, now), 0);
	okta_rate_destroy(&r);
}

static void
rate_429(void **state)
{
	struct okta_rate r;
	struct http_response resp;
	char h[256];
	int64_t now = T0, reset = now / 1000 + 30, until, at;

	(void)state;
	okta_rate_init(&r, 50, 10);
	until = learn(&r, OKTA_BUCKET_USERS_ID_GET, 429, 600, 0, reset, now);
	assert_int_equal(until, reset * 1000);
	assert_int_equal(atomic_load(&r.rate_limited), 1);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_GET, now + 1000, &at),
	    OKTA_RATE_BLOCKED);
	assert_int_equal(at, reset * 1000);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_GET, reset * 1000 - 1, &at),
	    OKTA_RATE_BLOCKED);
	/* obeyed to its reset, then one call learns the new window */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_GET, reset * 1000, &at),
	    OKTA_RATE_GO);
	/* the write-back's bucket was never blocked */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, now, &at), OKTA_RATE_GO);
	okta_rate_destroy(&r);
	/* Retry-After later than the reset wins */
	okta_rate_init(&r, 50, 10);
	fake(&resp, 429, rate_headers(h, sizeof(h), 600, 0, reset), now + 45000);
	assert_int_equal(okta_rate_update(&r, OKTA_BUCKET_USERS_ID_GET, &resp, now), now + 45000);
	okta_rate_destroy(&r);
	/* neither: a backoff, never "now" */
	okta_rate_init(&r, 50, 10);
	fake(&resp, 429, "HTTP/1.1 429 Too Many Requests\r\n", 0);
	assert_int_equal(okta_rate_update(&r, OKTA_BUCKET_USERS_ID_GET, &resp, now),
	    now + OKTA_RATE_BACKOFF_MS);
	okta_rate_destroy(&r);
	/* an absurd reset is capped */
	okta_rate_init(&r, 50, 10);
	fake(&resp, 429, rate_headers(h, sizeof(h), 600, 0, 99999999999LL), 0);
	assert_int_equal(okta_rate_update(&r, OKTA_BUCKET_USERS_ID_GET, &resp, now),
	    now + OKTA_RATE_MAX_WAIT_MS);
	okta_rate_destroy(&r);
}

/* A 429 whose Date header reads the server's clock at okta_s, reset at reset_s. */
static int64_t
learn_dated(struct okta_rate *r, time_t okta_s, long long reset_s, int64_t now)
{
	struct http_response resp;
	char h[512], date[64];
	struct tm tm;

	gmtime_r(&okta_s, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(h, sizeof(h), "HTTP/1.1 429 Too Many Requests\r\nDate: %s\r\n"
	    "X-Rate-Limit-Limit: 600\r\nX-Rate-Limit-Remaining: 0\r\n"
	    "X-Rate-Limit-Reset: %lld\r\n\r\n", date, reset_s);
	fake(&resp, 429, h, 0);
	return okta_rate_update(r, OKTA_BUCKET_USERS_ID_GET, &resp, now);
}

static void
rate_date_skew(void **state)
{
	struct okta_rate r;
	int64_t now = T0 + 300, until;
	time_t okta_now = (time_t)(now / 1000) - 100; /* Okta's clock 100 s behind */

	(void)state;
	okta_rate_init(&r, 50, 10);
	until = learn_dated(&r, okta_now, (long long)okta_now + 30, now);
	/* 30 s from now on our clock, not 70 s in the past */
	assert_true(until >= now + 29000 && until <= now + 31000);
	okta_rate_destroy(&r);
	/* within 2 s Date is not used: its 1-s resolution would cost more than
	 * the skew; Reset is read on our clock, to the millisecond */
	okta_rate_init(&r, 50, 10);
	until = learn_dated(&r, (time_t)(now / 1000) + 1, now / 1000 + 2, now);
	assert_int_equal(until, (now / 1000 + 2) * 1000);
	okta_rate_destroy(&r);
	okta_rate_init(&r, 50, 10);
	until = learn_dated(&r, (time_t)(now / 1000) - 2, now / 1000 + 2, now);
	assert_int_equal(until, (now / 1000 + 2) * 1000);
	okta_rate_destroy(&r);
	/* Okta 10 s ahead: its reset is 10 s later on its clock than on ours */
	okta_rate_init(&r, 50, 10);
	until = learn_dated(&r, (time_t)(now / 1000) + 10, now / 1000 + 12, now);
	assert_true(until >= now + 1000 && until <= now + 2500);
	okta_rate_destroy(&r);
}

/* A burst of callers gets slots an even step apart, within the share. */
static void
pacing_even_spacing(void **state)
{
	struct okta_rate r;
	int64_t at, prev = T0, reset_ms = T0 + 2000;
	int i;

	(void)state;
	okta_rate_init(&r, 50, 10);
	known(&r, OKTA_BUCKET_USERS_ID_WRITE, 20, reset_ms / 1000, T0);
	/* budget 10: the learning call and 9 more, 200 ms apart, the last a
	 * step before the next window's first call */
	for (i = 0; i < 9; i++) {
		assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0 + 10, &at),
		    OKTA_RATE_GO);
		assert_int_equal(at - prev, 200);
		prev = at;
	}
	assert_int_equal(prev, reset_ms - 200);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0 + 10, &at),
	    OKTA_RATE_LATER);
	assert_int_equal(at, reset_ms);
	/* a caller that comes late is not crammed behind: its slot is now */
	okta_rate_destroy(&r);
	okta_rate_init(&r, 50, 10);
	known(&r, OKTA_BUCKET_USERS_ID_WRITE, 20, reset_ms / 1000, T0);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0 + 1000, &at),
	    OKTA_RATE_GO);
	assert_int_equal(at, T0 + 1000);
	/* the 8 left share the second left with the next window's first */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0 + 1000, &at),
	    OKTA_RATE_GO);
	assert_int_equal(at, T0 + 1000 + 1000 / 9);
	okta_rate_destroy(&r);
}

/* Budget spent: nothing more in this window; the next one is learnt. */
static void
pacing_budget_spent(void **state)
{
	struct okta_rate r;
	int64_t at, reset_ms = T0 + 2000;
	int i;

	(void)state;
	okta_rate_init(&r, 50, 10);
	known(&r, OKTA_BUCKET_USERS_ID_WRITE, 20, reset_ms / 1000, T0);
	for (i = 0; i < 9; i++)
		assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0, &at),
		    OKTA_RATE_GO);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].used, 10);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0 + 1900, &at),
	    OKTA_RATE_LATER);
	assert_int_equal(at, reset_ms);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].used, 10);
	/* the window ended: one call learns the next; the others wait for it */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, reset_ms, &at),
	    OKTA_RATE_GO);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, reset_ms + 1, &at),
	    OKTA_RATE_LATER);
	assert_int_equal(at, reset_ms + 1 + OKTA_RATE_POLL_MS);
	learn(&r, OKTA_BUCKET_USERS_ID_WRITE, 200, 20, 19, reset_ms / 1000 + 2, reset_ms + 5);
	/* that call is the first of the new window */
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].used, 1);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].reset_ms, reset_ms + 2000);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, reset_ms + 5, &at),
	    OKTA_RATE_GO);
	assert_int_equal(at, reset_ms + 2000 / 10);
	/* a late answer of the old window changes nothing */
	learn(&r, OKTA_BUCKET_USERS_ID_WRITE, 200, 20, 10, reset_ms / 1000, reset_ms + 6);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].reset_ms, reset_ms + 2000);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].used, 2);
	okta_rate_destroy(&r);
}

/* Share 100 spends the whole bucket, twice as densely as 50; at least 1. */
static void
pacing_share(void **state)
{
	static const struct { int share; long limit; int budget; } v[] = {
		{50, 20, 10}, {100, 20, 20}, {1, 600, 6}, {50, 1, 1}, {100, 1, 1},
	};
	struct okta_rate r;
	int64_t at, reset_ms = T0 + 2000;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		okta_rate_init(&r, v[i].share, 10);
		r.horizon_ms = 10000;
		assert_int_equal(okta_rate_budget(&r, v[i].limit), v[i].budget);
		known(&r, OKTA_BUCKET_USERS_ID_WRITE, v[i].limit, reset_ms / 1000, T0);
		for (n = 1; okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0, &at) ==
		    OKTA_RATE_GO; n++)
			;
		assert_int_equal(n, v[i].budget);
		if (v[i].budget == 20)
			assert_true(r.b[OKTA_BUCKET_USERS_ID_WRITE].last_slot_ms >= T0 + 1800);
		okta_rate_destroy(&r);
	}
	/* out of range: the default, 50 */
	okta_rate_init(&r, 0, 0);
	assert_int_equal(okta_rate_budget(&r, 600), 300);
	assert_int_equal(r.max_in_flight, 10);
	okta_rate_destroy(&r);
}

/* Until an answer tells the limit, one call at a time. */
static void
pacing_unknown_one_at_a_time(void **state)
{
	struct okta_rate r;
	struct http_response resp;
	int64_t at;

	(void)state;
	okta_rate_init(&r, 50, 10);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0, &at), OKTA_RATE_GO);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0, &at), OKTA_RATE_LATER);
	assert_int_equal(at, T0 + OKTA_RATE_POLL_MS);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0 + 500, &at), OKTA_RATE_LATER);
	/* each bucket learns its own */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_GET, T0, &at), OKTA_RATE_GO);
	/* no answer (timeout): the next call tries */
	okta_rate_update(&r, OKTA_BUCKET_GROUPS, NULL, T0 + 600);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0 + 600, &at), OKTA_RATE_GO);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0 + 600, &at), OKTA_RATE_LATER);
	/* a 500 without headers tells nothing either */
	fake(&resp, 500, "HTTP/1.1 500 Internal Server Error\r\n", 0);
	okta_rate_update(&r, OKTA_BUCKET_GROUPS, &resp, T0 + 700);
	assert_int_equal(r.b[OKTA_BUCKET_GROUPS].unlimited, 1);
	/* ... so a bucket Okta never limits is not held to one at a time */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0 + 700, &at), OKTA_RATE_GO);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_GROUPS, T0 + 700, &at), OKTA_RATE_GO);
	/* a caller that stops frees the learning call's turn */
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_API, T0, &at), OKTA_RATE_GO);
	okta_rate_cancel(&r, OKTA_BUCKET_API);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_API, T0, &at), OKTA_RATE_GO);
	okta_rate_destroy(&r);
}

/* A slot beyond the horizon is not reserved: the caller retries then. */
static void
pacing_horizon(void **state)
{
	struct okta_rate r;
	int64_t at, reset_ms = T0 + 60000;

	(void)state;
	okta_rate_init(&r, 50, 10);
	known(&r, OKTA_BUCKET_USERS_ID_WRITE, 20, reset_ms / 1000, T0);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0, &at),
	    OKTA_RATE_LATER);
	assert_int_equal(at, T0 + 60000 / 10);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].used, 1);
	assert_int_equal(okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, at - OKTA_RATE_HORIZON_MS,
	    &at), OKTA_RATE_GO);
	assert_int_equal(at, T0 + 60000 / 10);
	assert_int_equal(r.b[OKTA_BUCKET_USERS_ID_WRITE].used, 2);
	okta_rate_destroy(&r);
}

static void
concurrency_bound(void **state)
{
	struct okta_rate r;

	(void)state;
	okta_rate_init(&r, 50, 2);
	assert_int_equal(okta_rate_enter(&r, 0), 0);
	assert_int_equal(okta_rate_enter(&r, 0), 0);
	assert_int_equal(okta_rate_enter(&r, 20), -1);
	okta_rate_leave(&r);
	assert_int_equal(okta_rate_enter(&r, 0), 0);
	assert_int_equal(r.in_flight, 2);
	okta_rate_leave(&r);
	okta_rate_leave(&r);
	okta_rate_destroy(&r);
}

static void
rate_stats(void **state)
{
	struct okta_rate r;
	struct okta_bucket_stats st[OKTA_BUCKETS];
	struct http_response resp;
	int64_t at;
	int i;

	(void)state;
	okta_rate_init(&r, 50, 10);
	known(&r, OKTA_BUCKET_USERS_ID_WRITE, 20, (T0 + 2000) / 1000, T0);
	for (i = 0; i < 4; i++)
		okta_rate_reserve(&r, OKTA_BUCKET_USERS_ID_WRITE, T0, &at);
	learn(&r, OKTA_BUCKET_USERS_ID_WRITE, 429, 20, 0, (T0 + 2000) / 1000, T0);
	fake(&resp, 503, "HTTP/1.1 503 Service Unavailable\r\n", 0);
	okta_rate_update(&r, OKTA_BUCKET_USERS_ID_WRITE, &resp, T0);
	fake(&resp, 404, "HTTP/1.1 404 Not Found\r\n", 0);
	okta_rate_update(&r, OKTA_BUCKET_USERS_ID_WRITE, &resp, T0);
	okta_rate_update(&r, OKTA_BUCKET_USERS_ID_WRITE, NULL, T0);
	okta_rate_note_wait(&r, OKTA_BUCKET_USERS_ID_WRITE, 1500);
	okta_rate_stats(&r, T0 + 10, st);
	assert_string_equal(st[OKTA_BUCKET_USERS_ID_WRITE].name, "users-id-write");
	assert_int_equal(st[OKTA_BUCKET_USERS_ID_WRITE].calls[OKTA_CALL_2XX], 1);
	assert_int_equal(st[OKTA_BUCKET_USERS_ID_WRITE].calls[OKTA_CALL_429], 1);
	assert_int_equal(st[OKTA_BUCKET_USERS_ID_WRITE].calls[OKTA_CALL_5XX], 1);
	assert_int_equal(st[OKTA_BUCKET_USERS_ID_WRITE].calls[OKTA_CALL_4XX], 1);
	assert_int_equal(st[OKTA_BUCKET_USERS_ID_WRITE].calls[OKTA_CALL_ERROR], 1);
	/* 5 of 10 used */
	assert_true(st[OKTA_BUCKET_USERS_ID_WRITE].share_remaining > 0.49 &&
	    st[OKTA_BUCKET_USERS_ID_WRITE].share_remaining < 0.51);
	assert_true(st[OKTA_BUCKET_USERS_ID_WRITE].waited_s > 1.49 &&
	    st[OKTA_BUCKET_USERS_ID_WRITE].waited_s < 1.51);
	assert_true(st[OKTA_BUCKET_GROUPS].share_remaining == 1.0);
	/* past the window's end: not known, 1 */
	okta_rate_stats(&r, T0 + 2000, st);
	assert_true(st[OKTA_BUCKET_USERS_ID_WRITE].share_remaining == 1.0);
	okta_rate_destroy(&r);
}

/* ---- errors and classification -------------------------------------------- */

static void
error_body_samples(void **state)
{
	char *s429 = read_sample("api-error-429.json"), *s404 = read_sample("api-error-404.json");
	char out[256];

	(void)state;
	okta_parse_error(s429, strlen(s429), out, sizeof(out));
	assert_string_equal(out, "E0000047 API call exceeded rate limit due to too many requests.");
	okta_parse_error(s404, strlen(s404), out, sizeof(out));
	assert_string_equal(out,
	    "E0000007 Not found: Resource not found: 00u8gone0XyZaBcDe4x7 (User)");
	okta_parse_error(s404, strlen(s404), out, 12);
	assert_string_equal(out, "E0000007 No");
	free(s429);
	free(s404);
}

/* An error that echoes the request's credentials never passes them on. */
static void
error_body_echoes_credentials(void **state)
{
	static const char body[] = "{\"errorCode\":\"E0000011\",\"errorSummary\":"
	    "\"Invalid token: Authorization: SSWS 00tok-abc; bearer eyJ.x.y, DPoP eyJz\"}";
	static const char raw[] = "<html>Authorization: Basic dXNlcjpwdw==</html>";
	char out[256];

	(void)state;
	okta_parse_error(body, strlen(body), out, sizeof(out));
	assert_string_equal(out, "E0000011 Invalid token: Authorization: SSWS [redacted]; "
	    "bearer [redacted], DPoP [redacted]");
	okta_parse_error(raw, strlen(raw), out, sizeof(out));
	assert_string_equal(out, "<html>Authorization: Basic [redacted]");
	okta_parse_error(body, strlen(body), out, 20);
	assert_null(strstr(out, "00tok"));
}

/* okta_json_parse reads s[0..len) only: s[len] need not exist. Found by
 * fuzz_template (strspn ran past len over trailing white space); fails
 * under ASan without the fix. */
static void
json_parse_bounded(void **state)
{
	static const char text[] = "{\"a\":1} \r\n\t";
	size_t n = sizeof(text) - 1;
	char *exact = malloc(n);
	json_object *o;

	(void)state;
	assert_non_null(exact);
	memcpy(exact, text, n); /* no NUL after the last byte */
	o = okta_json_parse(exact, n);
	assert_non_null(o);
	json_object_put(o);
	exact[n - 1] = 'x'; /* trailing garbage within len */
	assert_null(okta_json_parse(exact, n));
	free(exact);
	/* an embedded NUL within len is garbage too; so is nothing */
	assert_null(okta_json_parse("{}\0", 3));
	assert_null(okta_json_parse("  ", 2));
	o = okta_json_parse("[1] x", 3);
	assert_non_null(o);
	json_object_put(o);
}

static void
error_body_shapes(void **state)
{
	static const char causes[] = "{\"errorCode\":\"E0000001\",\"errorSummary\":"
	    "\"Api validation failed: profile\",\"errorCauses\":[{\"errorSummary\":"
	    "\"customId: too long\"}]}";
	static const char oauth[] = "{\"error\":\"invalid_client\",\"error_description\":"
	    "\"The client_assertion signature is invalid.\"}";
	static const char ctl[] = "{\"errorCode\":\"E1\",\"errorSummary\":\"a\\nb\"}";
	char big[10000], out[256];

	(void)state;
	okta_parse_error(causes, strlen(causes), out, sizeof(out));
	assert_string_equal(out, "E0000001 Api validation failed: profile: customId: too long");
	okta_parse_error(oauth, strlen(oauth), out, sizeof(out));
	assert_string_equal(out, "invalid_client The client_assertion signature is invalid.");
	okta_parse_error("", 0, out, sizeof(out));
	assert_string_equal(out, "");
	okta_parse_error(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
	/* not JSON: a short, printable prefix only */
	memset(big, 'x', sizeof(big));
	memcpy(big, "<html>\r\n<b>", 11);
	okta_parse_error(big, sizeof(big), out, sizeof(out));
	assert_true(strlen(out) <= 64 + 3);
	assert_null(strpbrk(out, "\r\n"));
	assert_int_equal(strncmp(out, "<html>  <b>", 11), 0);
	/* controls inside JSON strings are blanked too */
	okta_parse_error(ctl, strlen(ctl), out, sizeof(out));
	assert_string_equal(out, "E1 a b");
}

static void
classify_statuses(void **state)
{
	static const long retry[] = {0, 408, 429, 500, 502, 503, 504};
	static const long perm[] = {400, 401, 403, 404, 405, 409, 410, 422, 301};
	size_t i;

	(void)state;
	assert_int_equal(okta_classify(200), HTTP_CLASS_OK);
	assert_int_equal(okta_classify(204), HTTP_CLASS_OK);
	for (i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		assert_int_equal(okta_classify(retry[i]), HTTP_CLASS_RETRY);
	for (i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
		assert_int_equal(okta_classify(perm[i]), HTTP_CLASS_PERMANENT);
}

static void
result_messages(void **state)
{
	struct okta_result res;
	struct http_response resp;
	static char forbidden[] = "{\"errorCode\":\"E0000006\",\"errorSummary\":"
	    "\"You do not have permission to perform the requested action\"}";

	(void)state;
	fake(&resp, 403, "", 0);
	resp.body = forbidden;
	resp.body_len = strlen(forbidden);
	okta_result_fill(&res, "GET user 00u1", &resp, "hint");
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 403);
	assert_int_equal(res.retry_at_ms, 0);
	assert_string_equal(res.error, "GET user 00u1: 403 E0000006 You do not have permission "
	    "to perform the requested action");
	fake(&resp, 401, "", 0);
	okta_result_fill(&res, "GET user 00u1", &resp, "API token rejected");
	assert_string_equal(res.error, "GET user 00u1: 401 (API token rejected)");
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	fake(&resp, 503, "", 123456);
	okta_result_fill(&res, "GET user 00u1", &resp, "hint");
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.retry_at_ms, 123456);
	assert_string_equal(res.error, "GET user 00u1: 503");
}

/* ---- a loopback server that answers like Okta --------------------------------- */

static char *sample_user; /* set before a server starts, read-only after */

static int
is_token_req(const struct srv_req *r)
{
	return strncmp(r->target, "/oauth2/v1/token", 16) == 0;
}

/* One test's world: server, configuration, client. */
struct env {
	struct srv *srv;
	struct config cfg;
	struct okta *okta;
	struct http_client *hc;
	EVP_PKEY *key; /* the OAuth client key, NULL with SSWS */
	char *pem;
};

static struct http_client *
client_new(void)
{
	struct http_options ho = {.connect_timeout_ms = 2000, .timeout_ms = 5000};
	struct http_client *hc = http_client_new(&ho);

	assert_non_null(hc);
	return hc;
}

/* auth: "ssws", "rs256" or "es256"; dpop: "auto", "on", "off". */
static void
env_start(struct env *e, srv_answer *answer, const char *auth, const char *dpop)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	assert_int_equal(http_global_init(), 0);
	if (sample_user == NULL)
		sample_user = read_sample("api-get-user.json");
	e->srv = srv_start(answer, "/oauth2/v1/token");
	e->cfg.okta_org_url = e->srv->url;
	e->cfg.okta_scopes = (char *)SCOPES;
	e->cfg.okta_dpop = (char *)dpop;
	e->cfg.group_ids[0] = "00gsync";
	e->cfg.ngroup_ids = 1;
	e->cfg.remote_id_attribute = (char *)"customId";
	if (strcmp(auth, "ssws") == 0) {
		e->cfg.okta_api_token = (char *)SSWS_TOKEN;
	} else {
		e->key = strcmp(auth, "es256") == 0 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
		e->pem = pem_of(e->key, NULL);
		e->cfg.okta_client_id = (char *)"0oaclient";
		e->cfg.okta_private_key = e->pem;
		e->cfg.okta_key_id = (char *)"kid-1";
	}
	e->okta = okta_new(&e->cfg, err, sizeof(err));
	if (e->okta == NULL)
		fail_msg("okta_new: %s", err);
	e->hc = client_new();
}

static void
env_stop(struct env *e)
{
	http_client_free(e->hc);
	okta_free(e->okta);
	srv_stop(e->srv);
	EVP_PKEY_free(e->key);
	free(e->pem);
	http_global_cleanup();
}

static void
check_stats(struct okta *o, uint64_t reads, uint64_t writes, uint64_t tokens,
    uint64_t limited, uint64_t deferred)
{
	struct okta_stats st;

	okta_get_stats(o, &st);
	assert_int_equal(st.reads, reads);
	assert_int_equal(st.writes, writes);
	assert_int_equal(st.token_requests, tokens);
	assert_int_equal(st.rate_limited, limited);
	assert_int_equal(st.deferred, deferred);
}

/* ---- end to end: SSWS reads and writes ---------------------------------------- */

#define E0000006 "{\"errorCode\":\"E0000006\",\"errorSummary\":\"You do not have " \
	"permission to perform the requested action\",\"errorCauses\":[]}"
#define E0000007 "{\"errorCode\":\"E0000007\",\"errorSummary\":\"Not found: Resource " \
	"not found: 00ugone (User)\",\"errorCauses\":[]}"
#define E0000011 "{\"errorCode\":\"E0000011\",\"errorSummary\":\"Invalid token provided\"}"

static void
answer_users(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	const char *t = r->target;

	(void)s;
	(void)i;
	if (strcmp(r->method, "POST") == 0 && strcmp(t, "/api/v1/users/00uinvalid") == 0)
		reply(out, len, 400, NULL, "{\"errorCode\":\"E0000001\",\"errorSummary\":\"Api "
		    "validation failed: profile\",\"errorCauses\":[{\"errorSummary\":"
		    "\"customId: Property name customId is not defined\"}]}");
	else if (strcmp(r->method, "POST") == 0)
		reply(out, len, 200, NULL, "{\"id\":\"00u1\"}");
	else if (strcmp(t, "/api/v1/users/00u8jane2XyZaBcDe4x7") == 0)
		reply(out, len, 200, NULL, sample_user);
	else if (strcmp(t, "/api/v1/users/00uforbidden") == 0)
		reply(out, len, 403, NULL, E0000006);
	else if (strcmp(t, "/api/v1/users/00ubadtoken") == 0)
		reply(out, len, 401, NULL, E0000011);
	else if (strcmp(t, "/api/v1/users/00ubusy") == 0)
		reply(out, len, 503, "Retry-After: 7\r\n", "<html>busy</html>");
	else if (strcmp(t, "/api/v1/users/00unotjson") == 0)
		reply(out, len, 200, NULL, "<html>maintenance</html>");
	else if (strcmp(t, "/api/v1/users/a%2Fb%20c%3F") == 0)
		reply(out, len, 200, NULL, "{\"id\":\"odd\"}");
	else
		reply(out, len, 404, NULL, E0000007);
}

static void
get_user_ok(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *u = NULL;
	char v[256];

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u8jane2XyZaBcDe4x7", &u, &res), 0);
	assert_non_null(u);
	assert_string_equal(jstr(u, "id"), "00u8jane2XyZaBcDe4x7");
	assert_string_equal(jstr(u, "status"), "ACTIVE");
	assert_int_equal(res.cls, HTTP_CLASS_OK);
	assert_int_equal(res.status, 200);
	srv_get(e.srv, 0, &r);
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.target, "/api/v1/users/00u8jane2XyZaBcDe4x7");
	assert_true(req_header(&r, "Authorization", v, sizeof(v)));
	assert_string_equal(v, "SSWS " SSWS_TOKEN);
	assert_true(req_header(&r, "Accept", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	assert_true(req_header(&r, "User-Agent", v, sizeof(v)));
	assert_int_equal(strncmp(v, "groupsync/", 10), 0);
	assert_false(req_header(&r, "Content-Type", v, sizeof(v)));
	assert_false(req_header(&r, "DPoP", v, sizeof(v)));
	check_stats(e.okta, 1, 0, 0, 0, 0);
	json_object_put(u);
	env_stop(&e);
}

static void
get_user_not_found(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = (json_object *)&e; /* must be reset to NULL */

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00ugone", &u, &res), 0);
	assert_null(u);
	assert_int_equal(res.status, 404);
	assert_int_equal(res.cls, HTTP_CLASS_OK);
	env_stop(&e);
}

static void
get_user_forbidden(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00uforbidden", &u, &res), -1);
	assert_null(u);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 403);
	assert_string_equal(res.error, "GET user 00uforbidden: 403 E0000006 You do not have "
	    "permission to perform the requested action");
	env_stop(&e);
}

static void
get_user_ssws_401(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00ubadtoken", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 401);
	assert_non_null(strstr(res.error, "GET user 00ubadtoken: 401"));
	assert_non_null(strstr(res.error, "GROUPSYNC_OKTA_API_TOKEN"));
	assert_non_null(strstr(res.error, "E0000011"));
	assert_null(strstr(res.error, SSWS_TOKEN));
	assert_int_equal(srv_count(e.srv, NULL), 1); /* a bad API token is not retried */
	env_stop(&e);
}

static void
get_user_retryable(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;
	int64_t now = util_now_ms();

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00ubusy", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.status, 503);
	assert_true(res.retry_at_ms >= now + 6000 && res.retry_at_ms <= now + 9000);
	assert_string_equal(res.error, "GET user 00ubusy: 503 <html>busy</html>");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00unotjson", &u, &res), -1);
	assert_null(u);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_non_null(strstr(res.error, "GET user 00unotjson: "));
	env_stop(&e);
}

static void
get_user_escapes_id(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *u = NULL;
	char long_id[300];

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "a/b c?", &u, &res), 0);
	srv_get(e.srv, 0, &r);
	assert_string_equal(r.target, "/api/v1/users/a%2Fb%20c%3F");
	assert_string_equal(jstr(u, "id"), "odd");
	json_object_put(u);
	/* IDs that cannot be right never reach Okta */
	assert_int_equal(okta_get_user(e.okta, e.hc, "", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	memset(long_id, 'u', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(okta_get_user(e.okta, e.hc, long_id, &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(srv_count(e.srv, NULL), 1);
	env_stop(&e);
}

static void
get_user_no_answer(void **state)
{
	struct config cfg;
	struct okta_result res;
	struct http_client *hc;
	struct okta *o;
	json_object *u = NULL;
	char err[256];

	(void)state;
	assert_int_equal(http_global_init(), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.okta_org_url = (char *)"http://127.0.0.1:1"; /* nothing listens there */
	cfg.okta_api_token = (char *)SSWS_TOKEN;
	o = okta_new(&cfg, err, sizeof(err));
	assert_non_null(o);
	hc = client_new();
	assert_int_equal(okta_get_user(o, hc, "00u1", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.status, 0);
	assert_int_equal(strncmp(res.error, "GET user 00u1: ", 15), 0);
	check_stats(o, 0, 0, 0, 0, 0);
	http_client_free(hc);
	okta_free(o);
	http_global_cleanup();
}

static json_object *
request_json(struct srv *s, int i, struct srv_req *r)
{
	json_object *o;
	char v[256];

	srv_get(s, i, r);
	assert_string_equal(r->method, "POST");
	assert_true(req_header(r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	assert_true(req_header(r, "Accept", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	o = json_tokener_parse(r->body);
	assert_non_null(o);
	return o;
}

static void
set_profile_attr_body(void **state)
{
	static const char value[] = "r-\"1\"/\\ \xc3\xbc\",\"admin\":true";
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *body, *profile, *v;

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_set_profile_attr(e.okta, e.hc, "00u1", "customId", value, &res), 0);
	assert_int_equal(res.status, 200);
	body = request_json(e.srv, 0, &r);
	assert_string_equal(r.target, "/api/v1/users/00u1");
	assert_int_equal(json_object_object_length(body), 1);
	assert_true(json_object_object_get_ex(body, "profile", &profile));
	assert_int_equal(json_object_object_length(profile), 1);
	assert_true(json_object_object_get_ex(profile, "customId", &v));
	assert_string_equal(json_object_get_string(v), value);
	json_object_put(body);
	check_stats(e.okta, 0, 1, 0, 0, 0);
	env_stop(&e);
}

static void
set_profile_attr_null(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *body, *profile, *v = (json_object *)&e;

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_set_profile_attr(e.okta, e.hc, "00u1", "customId", NULL, &res), 0);
	body = request_json(e.srv, 0, &r);
	assert_true(json_object_object_get_ex(body, "profile", &profile));
	assert_true(json_object_object_get_ex(profile, "customId", &v));
	assert_null(v); /* JSON null clears the attribute */
	json_object_put(body);
	env_stop(&e);
}

static void
set_profile_attr_invalid(void **state)
{
	struct env e;
	struct okta_result res;

	(void)state;
	env_start(&e, answer_users, "ssws", "off");
	assert_int_equal(okta_set_profile_attr(e.okta, e.hc, "00uinvalid", "customId", "x",
	    &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 400);
	assert_string_equal(res.error, "POST user 00uinvalid: 400 E0000001 Api validation "
	    "failed: profile: customId: Property name customId is not defined");
	env_stop(&e);
}

/* ---- end to end: paging ----------------------------------------------------------- */

static void
answer_pages(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	const char *t = r->target;
	char h[1024];

	(void)i;
	if (strcmp(t, "/api/v1/users/00u1/groups") == 0) {
		snprintf(h, sizeof(h), "Link: <%s/api/v1/users/00u1/groups>; rel=\"self\"\r\n"
		    "Link: <%s/api/v1/users/00u1/groups?after=00gother>; rel=\"next\"\r\n",
		    s->url, s->url);
		reply(out, len, 200, h, "[{\"id\":\"00gother\",\"profile\":{\"name\":\"Everyone\"}}]");
	} else if (strcmp(t, "/api/v1/users/00u1/groups?after=00gother") == 0) {
		reply(out, len, 200, NULL, "[{\"id\":\"00gx\"},{\"id\":\"00gsync\"}]");
	} else if (strcmp(t, "/api/v1/users/00u2/groups") == 0) {
		reply(out, len, 200, NULL, "[{\"id\":\"00gother\"},{\"profile\":{}}]");
	} else if (strcmp(t, "/api/v1/groups/00gsync/users?limit=1000") == 0) {
		snprintf(h, sizeof(h), "Link: <%s/api/v1/groups/00gsync/users?limit=1000>; "
		    "rel=\"self\", <%s/api/v1/groups/00gsync/users?after=00u2&limit=1000>; "
		    "rel=\"next\"\r\n", s->url, s->url);
		reply(out, len, 200, h, "[{\"id\":\"00u1\"},{\"id\":\"00u2\"}]");
	} else if (strcmp(t, "/api/v1/groups/00gsync/users?after=00u2&limit=1000") == 0) {
		reply(out, len, 200, NULL, "[{\"id\":\"00u3\"}]");
	} else if (strcmp(t, "/api/v1/groups/00gevil/users?limit=1000") == 0) {
		reply(out, len, 200, "Link: <https://evil.example.com/api/v1/groups/00gevil/users"
		    "?after=00u9>; rel=\"next\"\r\n", "[{\"id\":\"00u9\"}]");
	} else {
		reply(out, len, 404, NULL, E0000007);
	}
}

static void
user_in_groups_paged(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	int member = -1;

	(void)state;
	env_start(&e, answer_pages, "ssws", "off");
	assert_int_equal(okta_user_in_groups(e.okta, e.hc, "00u1", &member, &res), 0);
	assert_int_equal(member, 1);
	assert_int_equal(srv_count(e.srv, NULL), 2);
	srv_get(e.srv, 1, &r);
	assert_string_equal(r.target, "/api/v1/users/00u1/groups?after=00gother");
	assert_int_equal(okta_user_in_groups(e.okta, e.hc, "00u2", &member, &res), 0);
	assert_int_equal(member, 0);
	assert_int_equal(srv_count(e.srv, NULL), 3);
	env_stop(&e);
}

static void
user_in_groups_deleted(void **state)
{
	struct env e;
	struct okta_result res;
	int member = -1;

	(void)state;
	env_start(&e, answer_pages, "ssws", "off");
	assert_int_equal(okta_user_in_groups(e.okta, e.hc, "00ugone", &member, &res), 0);
	assert_int_equal(member, 0);
	assert_int_equal(res.status, 404);
	env_stop(&e);
}

struct collect {
	char ids[256];
	int calls;
	int stop_at; /* return -1 on this call (1-based), 0 never */
};

static int
collect_user(json_object *user, void *arg)
{
	struct collect *c = arg;
	size_t n = strlen(c->ids);

	c->calls++;
	snprintf(c->ids + n, sizeof(c->ids) - n, "%s%s", n ? "," : "", jstr(user, "id"));
	return c->calls == c->stop_at ? -1 : 0;
}

static void
list_group_users_paged(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	struct collect c = {"", 0, 0};

	(void)state;
	env_start(&e, answer_pages, "ssws", "off");
	assert_int_equal(okta_list_group_users(e.okta, e.hc, "00gsync", collect_user, &c, &res), 0);
	assert_string_equal(c.ids, "00u1,00u2,00u3");
	assert_int_equal(srv_count(e.srv, NULL), 2);
	srv_get(e.srv, 0, &r);
	assert_string_equal(r.target, "/api/v1/groups/00gsync/users?limit=1000");
	srv_get(e.srv, 1, &r);
	assert_string_equal(r.target, "/api/v1/groups/00gsync/users?after=00u2&limit=1000");
	env_stop(&e);
}

static void
list_group_users_foreign_next(void **state)
{
	struct env e;
	struct okta_result res;
	struct collect c = {"", 0, 0};

	(void)state;
	env_start(&e, answer_pages, "ssws", "off");
	assert_int_equal(okta_list_group_users(e.okta, e.hc, "00gevil", collect_user, &c, &res),
	    -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_non_null(strstr(res.error, "GET members of group 00gevil: next-page link refused"));
	assert_int_equal(srv_count(e.srv, NULL), 1);
	env_stop(&e);
}

static void
list_group_users_stop(void **state)
{
	struct env e;
	struct okta_result res;
	struct collect c = {"", 0, 1};

	(void)state;
	env_start(&e, answer_pages, "ssws", "off");
	assert_int_equal(okta_list_group_users(e.okta, e.hc, "00gsync", collect_user, &c, &res),
	    -1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(srv_count(e.srv, NULL), 1);
	env_stop(&e);
}

/* ---- end to end: rate limits ------------------------------------------------------ */

static void
answer_429(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	char h[256];

	(void)s;
	(void)i;
	if (strncmp(r->target, "/api/v1/groups/", 15) == 0) {
		reply(out, len, 200, NULL, "[]");
		return;
	}
	snprintf(h, sizeof(h), "X-Rate-Limit-Limit: 600\r\nX-Rate-Limit-Remaining: 0\r\n"
	    "X-Rate-Limit-Reset: %lld\r\n", (long long)time(NULL) + 30);
	reply(out, len, 429, h, "{\"errorCode\":\"E0000047\",\"errorSummary\":\"API call "
	    "exceeded rate limit due to too many requests.\",\"errorCauses\":[]}");
}

static void
deferral_after_429(void **state)
{
	struct env e;
	struct okta_result res;
	struct collect c = {"", 0, 0};
	json_object *u = NULL;
	int64_t reset = (int64_t)time(NULL) + 30, first;

	(void)state;
	env_start(&e, answer_429, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.status, 429);
	assert_non_null(strstr(res.error, "GET user 00u1: 429 E0000047"));
	assert_true(res.retry_at_ms >= reset * 1000 - 1000 && res.retry_at_ms <= reset * 1000 + 2000);
	first = res.retry_at_ms;
	/* Before the reset nothing reaches Okta in that bucket. */
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.retry_at_ms, first);
	assert_non_null(strstr(res.error, "GET user 00u1: not sent"));
	assert_int_equal(srv_count(e.srv, NULL), 1);
	/* The write-back (users-id-write) and the member list (groups) are
	 * other buckets at Okta: they go. */
	assert_int_equal(okta_set_profile_attr(e.okta, e.hc, "00u1", "customId", "r1", &res), -1);
	assert_int_equal(res.status, 429);
	assert_int_equal(srv_count(e.srv, NULL), 2);
	assert_int_equal(okta_list_group_users(e.okta, e.hc, "00gsync", collect_user, &c, &res), 0);
	assert_int_equal(srv_count(e.srv, NULL), 3);
	check_stats(e.okta, 2, 1, 0, 2, 1);
	env_stop(&e);
}

static void
answer_headroom(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	char h[256];

	(void)s;
	(void)r;
	(void)i;
	snprintf(h, sizeof(h), "X-Rate-Limit-Limit: 100\r\nX-Rate-Limit-Remaining: 10\r\n"
	    "X-Rate-Limit-Reset: %lld\r\n", (long long)time(NULL) + 30);
	reply(out, len, 200, h, sample_user);
}

static void
deferral_headroom(void **state)
{
	struct env e;
	struct okta_result res;
	struct okta_stats st;
	json_object *u = NULL;

	(void)state;
	env_start(&e, answer_headroom, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u8jane2XyZaBcDe4x7", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u8jane2XyZaBcDe4x7", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_RETRY);
	assert_true(res.retry_at_ms > util_now_ms() + 25000);
	assert_int_equal(srv_count(e.srv, NULL), 1);
	okta_get_stats(e.okta, &st);
	assert_int_equal(st.rate_remaining, 10);
	assert_int_equal(st.deferred, 1);
	assert_int_equal(st.rate_limited, 0);
	env_stop(&e);
}

static void
answer_retry_after(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	(void)s;
	(void)r;
	if (i == 0)
		reply(out, len, 429, "Retry-After: 1\r\n", "{\"errorCode\":\"E0000047\"}");
	else
		reply(out, len, 200, NULL, sample_user);
}

static void
deferral_until_retry_after(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;
	int64_t now = util_now_ms(), wait;
	struct timespec ts;

	(void)state;
	env_start(&e, answer_retry_after, "ssws", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), -1);
	assert_true(res.retry_at_ms >= now + 900 && res.retry_at_ms <= now + 2500);
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), -1);
	assert_int_equal(srv_count(e.srv, NULL), 1);
	wait = res.retry_at_ms - util_now_ms() + 50;
	ts.tv_sec = wait / 1000;
	ts.tv_nsec = (long)(wait % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	assert_int_equal(srv_count(e.srv, NULL), 2);
	json_object_put(u);
	env_stop(&e);
}

/* ---- end to end: OAuth client credentials ---------------------------------------- */

static void
answer_token(struct srv *s, char *out, size_t len, const char *type, int expires_in)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"token_type\":\"%s\",\"expires_in\":%d,"
	    "\"access_token\":\"%s-at-%d\",\"scope\":\"" SCOPES "\"}", type, expires_in,
	    strcmp(type, "DPoP") == 0 ? "dpop" : "bearer", s->ntoken);
	reply(out, len, 200, NULL, body);
}

static int
bearer_is(const struct srv_req *r, const char *token)
{
	char v[512], want[512];

	snprintf(want, sizeof(want), "Bearer %s", token);
	return req_header(r, "Authorization", v, sizeof(v)) && strcmp(v, want) == 0;
}

static void
answer_oauth(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	char v[512];

	(void)i;
	if (is_token_req(r))
		answer_token(s, out, len, "Bearer", 3600);
	else if (req_header(r, "Authorization", v, sizeof(v)) &&
	    strncmp(v, "Bearer bearer-at-", 17) == 0)
		reply(out, len, 200, NULL, sample_user);
	else
		reply(out, len, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
		    E0000011);
}

static void
token_cached(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *u = NULL;
	int ntoken;

	(void)state;
	env_start(&e, answer_oauth, "rs256", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u2", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, &ntoken), 3);
	assert_int_equal(ntoken, 1);
	srv_get(e.srv, 1, &r);
	assert_true(bearer_is(&r, "bearer-at-1"));
	srv_get(e.srv, 2, &r);
	assert_true(bearer_is(&r, "bearer-at-1"));
	check_stats(e.okta, 2, 0, 1, 0, 0);
	env_stop(&e);
}

/* Percent-decodes form field key into out; 1 when present. */
static int
form_get(const char *form, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key), o = 0;
	const char *p = form, *end;
	unsigned int ch;

	for (; p != NULL && *p != '\0'; p = *end ? end + 1 : NULL) {
		end = p + strcspn(p, "&");
		if (strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		for (p += klen + 1; p < end && o + 1 < len; p++) {
			if (*p == '%' && end - p >= 3 && sscanf(p + 1, "%2x", &ch) == 1) {
				out[o++] = (char)ch;
				p += 2;
			} else {
				out[o++] = *p == '+' ? ' ' : *p;
			}
		}
		out[o] = '\0';
		return 1;
	}
	return 0;
}

static void
token_request_form(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	struct jwt j;
	json_object *u = NULL;
	EVP_PKEY *pub;
	char v[4096], aud[128];

	(void)state;
	env_start(&e, answer_oauth, "es256", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	srv_get(e.srv, 0, &r);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.target, "/oauth2/v1/token");
	assert_true(req_header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/x-www-form-urlencoded");
	assert_true(req_header(&r, "Accept", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	assert_false(req_header(&r, "Authorization", v, sizeof(v)));
	assert_false(req_header(&r, "DPoP", v, sizeof(v)));
	assert_true(form_get(r.body, "grant_type", v, sizeof(v)));
	assert_string_equal(v, "client_credentials");
	assert_true(form_get(r.body, "scope", v, sizeof(v)));
	assert_string_equal(v, SCOPES);
	assert_true(form_get(r.body, "client_assertion_type", v, sizeof(v)));
	assert_string_equal(v, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
	assert_true(form_get(r.body, "client_assertion", v, sizeof(v)));
	jwt_parse(v, &j);
	assert_string_equal(jstr(j.header, "alg"), "ES256");
	assert_string_equal(jstr(j.header, "kid"), "kid-1");
	snprintf(aud, sizeof(aud), "%s/oauth2/v1/token", e.srv->url);
	assert_string_equal(jstr(j.claims, "aud"), aud);
	assert_string_equal(jstr(j.claims, "iss"), "0oaclient");
	assert_string_equal(jstr(j.claims, "sub"), "0oaclient");
	assert_true(jint(j.claims, "exp") - jint(j.claims, "iat") <= 3600);
	pub = public_of(e.key);
	assert_true(jwt_verify(pub, &j));
	EVP_PKEY_free(pub);
	jwt_free(&j);
	env_stop(&e);
}

static void
answer_short_lived(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	(void)i;
	if (is_token_req(r))
		answer_token(s, out, len, "Bearer", 1);
	else
		reply(out, len, 200, NULL, sample_user);
}

static void
token_refresh_on_expiry(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *u = NULL;
	struct timespec ts = {0, 700000000L};
	int ntoken;

	(void)state;
	env_start(&e, answer_short_lived, "rs256", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	nanosleep(&ts, NULL); /* past half of a one-second life */
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, &ntoken), 4);
	assert_int_equal(ntoken, 2);
	srv_get(e.srv, 3, &r);
	assert_true(bearer_is(&r, "bearer-at-2"));
	env_stop(&e);
}

static void
answer_flaky_token(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	(void)i;
	if (is_token_req(r) && s->ntoken == 1)
		answer_token(s, out, len, "Bearer", 1);
	else if (is_token_req(r))
		reply(out, len, 503, NULL, "{\"error\":\"temporarily_unavailable\"}");
	else
		reply(out, len, 200, NULL, sample_user);
}

/* Regression: a failed early refresh used to leave its error in res even
 * though the call then succeeded with the still-valid token. */
static void
token_refresh_failure_keeps_old(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *u = NULL;
	struct timespec ts = {0, 600000000L};
	int ntoken;

	(void)state;
	env_start(&e, answer_flaky_token, "rs256", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	nanosleep(&ts, NULL); /* refresh due, token still valid */
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(res.cls, HTTP_CLASS_OK);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.error, "");
	assert_int_equal(srv_count(e.srv, &ntoken), 4);
	assert_int_equal(ntoken, 2);
	srv_get(e.srv, 3, &r);
	assert_true(bearer_is(&r, "bearer-at-1"));
	env_stop(&e);
}

static void
answer_revoked(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	(void)i;
	if (is_token_req(r))
		answer_token(s, out, len, "Bearer", 3600);
	else if (bearer_is(r, "bearer-at-2") && strstr(r->target, "00ualways") == NULL)
		reply(out, len, 200, NULL, sample_user);
	else
		reply(out, len, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
		    E0000011);
}

static void
token_401_refresh(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;
	int ntoken;

	(void)state;
	env_start(&e, answer_revoked, "rs256", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	assert_non_null(u);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, &ntoken), 4);
	assert_int_equal(ntoken, 2);
	/* Still 401 with a brand-new token: no third try, permanent. */
	assert_int_equal(okta_get_user(e.okta, e.hc, "00ualways", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 401);
	assert_non_null(strstr(res.error, "GET user 00ualways: 401 (access token rejected"));
	assert_null(strstr(res.error, "bearer-at"));
	assert_int_equal(srv_count(e.srv, &ntoken), 7);
	assert_int_equal(ntoken, 3);
	env_stop(&e);
}

static void
answer_bad_client(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	(void)s;
	(void)i;
	if (is_token_req(r))
		reply(out, len, 401, NULL, "{\"error\":\"invalid_client\",\"error_description\":"
		    "\"The client_assertion signature is invalid.\"}");
	else
		reply(out, len, 200, NULL, sample_user);
}

static void
token_endpoint_error(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;
	int ntoken;

	(void)state;
	env_start(&e, answer_bad_client, "rs256", "off");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), -1);
	assert_int_equal(res.cls, HTTP_CLASS_PERMANENT);
	assert_int_equal(res.status, 401);
	assert_int_equal(strncmp(res.error, "GET user 00u1: token request: 401", 33), 0);
	assert_non_null(strstr(res.error, "invalid_client"));
	assert_null(strstr(res.error, "eyJ")); /* no assertion in the message */
	assert_int_equal(srv_count(e.srv, &ntoken), 1);
	assert_int_equal(ntoken, 1);
	check_stats(e.okta, 0, 0, 1, 0, 0);
	env_stop(&e);
}

struct worker_arg {
	struct okta *okta;
	atomic_int *failures;
};

static void *
worker_main(void *arg)
{
	struct worker_arg *w = arg;
	struct http_options ho = {.connect_timeout_ms = 2000, .timeout_ms = 10000};
	struct http_client *hc = http_client_new(&ho);
	struct okta_result res;
	json_object *u;
	int i;

	for (i = 0; i < 3; i++) {
		u = NULL;
		if (hc == NULL || okta_get_user(w->okta, hc, "00u1", &u, &res) < 0 || u == NULL)
			atomic_fetch_add(w->failures, 1);
		json_object_put(u);
	}
	http_client_free(hc);
	return NULL;
}

static void
token_concurrent_refresh(void **state)
{
	struct env e;
	struct worker_arg w;
	pthread_t th[8];
	atomic_int failures;
	int i, ntoken;

	(void)state;
	env_start(&e, answer_oauth, "rs256", "off");
	pthread_mutex_lock(&e.srv->mu);
	e.srv->token_delay_ms = 300;
	pthread_mutex_unlock(&e.srv->mu);
	atomic_init(&failures, 0);
	w.okta = e.okta;
	w.failures = &failures;
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w), 0);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(srv_count(e.srv, &ntoken), 25);
	assert_int_equal(ntoken, 1);
	check_stats(e.okta, 24, 0, 1, 0, 0);
	env_stop(&e);
}

/* ---- end to end: DPoP ----------------------------------------------------------- */

/* The nonce claim of the request's DPoP proof; "" none, NULL no proof. */
static const char *
proof_nonce(const struct srv_req *r, char *buf, size_t len)
{
	char v[4096];
	json_object *c;
	const char *n;

	if (!req_header(r, "DPoP", v, sizeof(v)))
		return NULL;
	c = jwt_claims_try(v, strlen(v));
	n = c ? jstr(c, "nonce") : NULL;
	snprintf(buf, len, "%s", n ? n : "");
	json_object_put(c);
	return buf;
}

static void
answer_dpop_auto(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	char v[512], nb[128];
	const char *nonce = proof_nonce(r, nb, sizeof(nb));

	(void)i;
	if (is_token_req(r) && nonce == NULL)
		reply(out, len, 400, NULL, "{\"error\":\"invalid_dpop_proof\",\"error_description\":"
		    "\"The DPoP proof JWT header is missing.\"}");
	else if (is_token_req(r) && strcmp(nonce, "n-1") != 0)
		reply(out, len, 400, "DPoP-Nonce: n-1\r\n", "{\"error\":\"use_dpop_nonce\","
		    "\"error_description\":\"Authorization server requires nonce in DPoP proof.\"}");
	else if (is_token_req(r))
		answer_token(s, out, len, "DPoP", 3600);
	else if (nonce != NULL && req_header(r, "Authorization", v, sizeof(v)) &&
	    strcmp(v, "DPoP dpop-at-3") == 0)
		reply(out, len, 200, NULL, sample_user);
	else
		reply(out, len, 401, "WWW-Authenticate: DPoP error=\"invalid_token\"\r\n", "{}");
}

/* Checks request i's proof (signature against its own jwk) and claims. */
static void
check_req_proof(struct srv *s, int i, const char *htm, const char *path, const char *nonce,
    const char *token, char jwk_x[64])
{
	struct srv_req r;
	struct jwt j;
	json_object *jwk;
	char v[4096], htu[256];

	srv_get(s, i, &r);
	assert_true(req_header(&r, "DPoP", v, sizeof(v)));
	check_proof(v, NULL, &j);
	snprintf(htu, sizeof(htu), "%s%s", s->url, path);
	assert_string_equal(jstr(j.claims, "htm"), htm);
	assert_string_equal(jstr(j.claims, "htu"), htu);
	if (nonce != NULL)
		assert_string_equal(jstr(j.claims, "nonce"), nonce);
	else
		assert_false(jhas(j.claims, "nonce"));
	if (token != NULL)
		check_ath(jstr(j.claims, "ath"), token);
	else
		assert_false(jhas(j.claims, "ath"));
	assert_true(json_object_object_get_ex(j.header, "jwk", &jwk));
	if (jwk_x[0] == '\0')
		snprintf(jwk_x, 64, "%s", jstr(jwk, "x"));
	assert_string_equal(jstr(jwk, "x"), jwk_x); /* one key for every proof */
	jwt_free(&j);
}

static void
dpop_auto_handshake(void **state)
{
	struct env e;
	struct okta_result res;
	struct srv_req r;
	json_object *u = NULL;
	char v[512], x[64] = "";
	int ntoken;

	(void)state;
	env_start(&e, answer_dpop_auto, "rs256", "auto");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	assert_non_null(u);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, &ntoken), 4);
	assert_int_equal(ntoken, 3);
	srv_get(e.srv, 0, &r);
	assert_false(req_header(&r, "DPoP", v, sizeof(v))); /* auto starts without */
	check_req_proof(e.srv, 1, "POST", "/oauth2/v1/token", NULL, NULL, x);
	check_req_proof(e.srv, 2, "POST", "/oauth2/v1/token", "n-1", NULL, x);
	check_req_proof(e.srv, 3, "GET", "/api/v1/users/00u1", "n-1", "dpop-at-3", x);
	srv_get(e.srv, 3, &r);
	assert_true(req_header(&r, "Authorization", v, sizeof(v)));
	assert_string_equal(v, "DPoP dpop-at-3");
	/* cached token, DPoP stays on, a fresh proof per call */
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, &ntoken), 5);
	assert_int_equal(ntoken, 3);
	check_req_proof(e.srv, 4, "GET", "/api/v1/users/00u1", "n-1", "dpop-at-3", x);
	env_stop(&e);
}

static void
answer_dpop_rs_nonce(struct srv *s, const struct srv_req *r, int i, char *out, size_t len)
{
	char nb[128];
	const char *nonce = proof_nonce(r, nb, sizeof(nb));

	(void)i;
	if (is_token_req(r) && nonce != NULL)
		answer_token(s, out, len, "DPoP", 3600);
	else if (is_token_req(r))
		reply(out, len, 400, NULL, "{\"error\":\"invalid_dpop_proof\"}");
	else if (nonce != NULL && strcmp(nonce, "rs-1") == 0)
		reply(out, len, 200, NULL, sample_user);
	else
		reply(out, len, 401, "WWW-Authenticate: DPoP error=\"use_dpop_nonce\", "
		    "error_description=\"Resource server requires nonce in DPoP proof\"\r\n"
		    "DPoP-Nonce: rs-1\r\n", "{}");
}

static void
dpop_api_nonce_retry(void **state)
{
	struct env e;
	struct okta_result res;
	json_object *u = NULL;
	char x[64] = "";
	int ntoken;

	(void)state;
	env_start(&e, answer_dpop_rs_nonce, "es256", "on");
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, &ntoken), 3);
	assert_int_equal(ntoken, 1); /* the token was fine: kept */
	check_req_proof(e.srv, 0, "POST", "/oauth2/v1/token", NULL, NULL, x);
	check_req_proof(e.srv, 1, "GET", "/api/v1/users/00u1", NULL, "dpop-at-1", x);
	check_req_proof(e.srv, 2, "GET", "/api/v1/users/00u1", "rs-1", "dpop-at-1", x);
	/* the nonce is remembered */
	assert_int_equal(okta_get_user(e.okta, e.hc, "00u1", &u, &res), 0);
	json_object_put(u);
	assert_int_equal(srv_count(e.srv, NULL), 4);
	env_stop(&e);
}

static void
new_rejects_bad_config(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.okta_api_token = (char *)SSWS_TOKEN;
	assert_null(okta_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_OKTA_ORG_URL"));
	cfg.okta_org_url = (char *)ORIGIN;
	cfg.okta_api_token = (char *)"two\r\nlines";
	assert_null(okta_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_OKTA_API_TOKEN"));
	cfg.okta_api_token = NULL;
	cfg.okta_client_id = (char *)"0oaclient";
	cfg.okta_private_key = (char *)"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n";
	assert_null(okta_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_OKTA_PRIVATE_KEY"));
	cfg.okta_org_url = (char *)"example.okta.com";
	cfg.okta_client_id = NULL;
	cfg.okta_api_token = (char *)SSWS_TOKEN;
	assert_null(okta_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "GROUPSYNC_OKTA_ORG_URL"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(jwt_assertion_rs256),
	cmocka_unit_test(jwt_assertion_es256),
	cmocka_unit_test(key_load_rules),
	cmocka_unit_test(dpop_proof_claims),
	cmocka_unit_test(dpop_proof_token_request),
	cmocka_unit_test(link_one_header_several),
	cmocka_unit_test(link_several_headers),
	cmocka_unit_test(link_none),
	cmocka_unit_test(link_refused),
	cmocka_unit_test(bucket_map),
	cmocka_unit_test(rate_headers_parsed),
	cmocka_unit_test(rate_headroom),
	cmocka_unit_test(rate_429),
	cmocka_unit_test(rate_date_skew),
	cmocka_unit_test(pacing_even_spacing),
	cmocka_unit_test(pacing_budget_spent),
	cmocka_unit_test(pacing_share),
	cmocka_unit_test(pacing_unknown_one_at_a_time),
	cmocka_unit_test(pacing_horizon),
	cmocka_unit_test(concurrency_bound),
	cmocka_unit_test(rate_stats),
	cmocka_unit_test(error_body_samples),
	cmocka_unit_test(json_parse_bounded),
	cmocka_unit_test(error_body_shapes),
	cmocka_unit_test(classify_statuses),
	cmocka_unit_test(result_messages),
	cmocka_unit_test(new_rejects_bad_config),
	cmocka_unit_test(get_user_ok),
	cmocka_unit_test(get_user_not_found),
	cmocka_unit_test(get_user_forbidden),
	cmocka_unit_test(get_user_ssws_401),
	cmocka_unit_test(get_user_retryable),
	cmocka_unit_test(get_user_escapes_id),
	cmocka_unit_test(get_user_no_answer),
	cmocka_unit_test(set_profile_attr_body),
	cmocka_unit_test(set_profile_attr_null),
	cmocka_unit_test(set_profile_attr_invalid),
	cmocka_unit_test(user_in_groups_paged),
	cmocka_unit_test(user_in_groups_deleted),
	cmocka_unit_test(list_group_users_paged),
	cmocka_unit_test(list_group_users_foreign_next),
	cmocka_unit_test(list_group_users_stop),
	cmocka_unit_test(deferral_after_429),
	cmocka_unit_test(deferral_headroom),
	cmocka_unit_test(deferral_until_retry_after),
	cmocka_unit_test(token_cached),
	cmocka_unit_test(token_request_form),
	cmocka_unit_test(token_refresh_on_expiry),
	cmocka_unit_test(token_refresh_failure_keeps_old),
	cmocka_unit_test(token_401_refresh),
	cmocka_unit_test(token_endpoint_error),
	cmocka_unit_test(token_concurrent_refresh),
	cmocka_unit_test(dpop_auto_handshake),
	cmocka_unit_test(dpop_api_nonce_retry),
	cmocka_unit_test(error_body_echoes_credentials),
};

GS_UNIT_MAIN(tests)
