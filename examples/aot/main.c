/* attnc-aot-example [BUNDLE_DIR]: runs the document-mask kernel of an AOT bundle.
 *
 * Loads the bundle (manifest, CUBIN hashes), then on a GPU: random bf16 q, k, v and document
 * ids for two packed rows of three documents each, one call through the generated launcher
 * attnc_document_document(), and a float64 check of the output. Without a GPU it stops after
 * loading the bundle and says so (exit 0). Exit 1 on any error or a wrong result. */
#include "document.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *document_bundle_dir(void); /* from attnc_add_kernels */

enum { B = 2, S = 333, H = 4, D = 128 };

static uint16_t toBf16(float x) {
  uint32_t bits;
  memcpy(&bits, &x, 4);
  return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

static double fromBf16(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float x;
  memcpy(&x, &bits, 4);
  return x;
}

static attnc_tensor tensor(uint64_t ptr, int dtype, int rank, const int64_t *shape) {
  attnc_tensor t;
  memset(&t, 0, sizeof t);
  t.data = (const void *)(uintptr_t)ptr;
  t.dtype = dtype;
  t.rank = rank;
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    t.shape[i] = shape[i];
    t.strides[i] = stride;
    stride *= shape[i];
  }
  return t;
}

static int fail(const char *what) {
  fprintf(stderr, "attnc-aot-example: %s: %s\n", what, attnc_last_error());
  return 1;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : document_bundle_dir();
  attnc_program *bundle = NULL;
  if (attnc_document_load(dir, &bundle))
    return fail("loading the bundle");
  printf("bundle %s: %d kernel(s)\n", dir, (int)attnc_program_size(bundle));

  char name[128];
  int major = 0, minor = 0;
  if (attnc_device_info(name, sizeof name, &major, &minor)) {
    printf("no GPU (%s): launch skipped\n", attnc_last_error());
    attnc_program_free(bundle);
    return 0;
  }
  printf("device: %s (sm_%d%d)\n", name, major, minor);

  const size_t n = (size_t)B * S * H * D;
  uint16_t *host[3];
  double *values[3];
  for (int t = 0; t < 3; ++t) {
    host[t] = malloc(n * 2);
    values[t] = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; ++i) {
      host[t][i] = toBf16((float)rand() / RAND_MAX * 2.0f - 1.0f);
      values[t][i] = fromBf16(host[t][i]);
    }
  }
  int32_t doc[B * S];
  for (int b = 0; b < B; ++b)
    for (int s = 0; s < S; ++s)
      doc[b * S + s] = s < 100 + 20 * b ? 0 : (s < 250 ? 1 : 2);

  uint64_t q, k, v, o, docs;
  if (attnc_device_alloc(n * 2, &q) || attnc_device_alloc(n * 2, &k) ||
      attnc_device_alloc(n * 2, &v) || attnc_device_alloc(n * 2, &o) ||
      attnc_device_alloc(sizeof doc, &docs))
    return fail("allocating");
  if (attnc_copy_to_device(q, host[0], n * 2) || attnc_copy_to_device(k, host[1], n * 2) ||
      attnc_copy_to_device(v, host[2], n * 2) || attnc_copy_to_device(docs, doc, sizeof doc))
    return fail("copying");
  const int64_t qkvShape[4] = {B, S, H, D}, docShape[2] = {B, S};
  attnc_tensor tq = tensor(q, ATTNC_BF16, 4, qkvShape), tk = tensor(k, ATTNC_BF16, 4, qkvShape);
  attnc_tensor tv = tensor(v, ATTNC_BF16, 4, qkvShape), to = tensor(o, ATTNC_BF16, 4, qkvShape);
  attnc_tensor tdoc = tensor(docs, ATTNC_I32, 2, docShape);
  /* The same ids for queries and keys (Sq == Skv); no LSE; the default stream. */
  if (attnc_document_document(bundle, &tq, &tk, &tv, &to, NULL, &tdoc, &tdoc, NULL))
    return fail("launching");
  if (attnc_synchronize())
    return fail("synchronising");
  uint16_t *out = malloc(n * 2);
  if (attnc_copy_to_host(out, o, n * 2))
    return fail("copying back");

  /* float64 reference: softmax over the keys k <= q of the query's document. */
  double errSq = 0, refSq = 0, scale = 1.0 / sqrt((double)D);
  double *p = malloc(S * sizeof(double));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < S; ++i) {
        const double *qi = values[0] + (((size_t)b * S + i) * H + h) * D;
        double maxScore = -INFINITY, sum = 0;
        for (int j = 0; j <= i; ++j) {
          p[j] = -INFINITY;
          if (doc[b * S + j] != doc[b * S + i])
            continue;
          const double *kj = values[1] + (((size_t)b * S + j) * H + h) * D;
          double s = 0;
          for (int d = 0; d < D; ++d)
            s += qi[d] * kj[d];
          p[j] = s * scale;
          if (p[j] > maxScore)
            maxScore = p[j];
        }
        for (int j = 0; j <= i; ++j)
          sum += p[j] == -INFINITY ? 0 : exp(p[j] - maxScore);
        for (int d = 0; d < D; ++d) {
          double acc = 0;
          for (int j = 0; j <= i; ++j)
            if (p[j] != -INFINITY)
              acc += exp(p[j] - maxScore) * values[2][(((size_t)b * S + j) * H + h) * D + d];
          double ref = acc / sum, got = fromBf16(out[(((size_t)b * S + i) * H + h) * D + d]);
          errSq += (got - ref) * (got - ref);
          refSq += ref * ref;
        }
      }
  double rel = sqrt(errSq / refSq);
  printf("document mask, B%d S%d H%d D%d bf16: |O - ref| / |ref| = %.3e\n", B, S, H, D, rel);
  attnc_device_free(q);
  attnc_device_free(k);
  attnc_device_free(v);
  attnc_device_free(o);
  attnc_device_free(docs);
  attnc_program_free(bundle);
  return rel < 1e-2 ? 0 : 1;
}
