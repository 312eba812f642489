/* The t0 C API: rank classification, streaming generation, tokenization and a PromptSource
 * template, then the error paths (NULL, invalid UTF-8, missing directory, small buffers).
 *
 *   cc -Wall -Wextra -Wpedantic -Werror -I t0-ffi/include examples/c/t0_example.c \
 *      target/debug/libt0.a -lpthread -ldl -lm -o t0_example
 *   ./t0_example MODEL_DIR TOKENIZER_FILE TEMPLATES_DIR
 *
 * Its first part prints exactly what `cargo run -p t0-examples --example c_parity` prints
 * (CI diffs them). Exit status 0 only when every check passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t0.h"

static int failures = 0;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAILED: %s\n", what);
    failures++;
  }
}

/* Expects `st` to be `want` and an error object carrying a message; frees it. */
static void expect_error(t0_status st, t0_error *err, t0_status want, const char *what) {
  check(st == want, what);
  check(err != NULL && t0_error_status(err) == want && strlen(t0_error_message(err)) > 0, what);
  if (st != want) {
    fprintf(stderr, "  %s: got %s: %s\n", what, t0_status_name(st), t0_error_message(err));
  }
  t0_error_free(err);
}

/* Runs `call` (which reports into `err`) and expects status `want` with a message. */
#define EXPECT(want, what, call)                   \
  do {                                             \
    err = NULL;                                    \
    t0_status st_ = (call);                        \
    expect_error(st_, err, (want), (what));        \
  } while (0)

static bool on_text(const char *piece, size_t len, void *user_data) {
  size_t *total = (size_t *)user_data;
  *total += len;
  check(strlen(piece) == len, "streamed piece is NUL-terminated at len");
  return true;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL_DIR TOKENIZER_FILE TEMPLATES_DIR\n", argv[0]);
    return 2;
  }
  /* README-BEGIN */
  t0_error *err = NULL;
  t0_load_params lp = t0_load_default_params();
  lp.tokenizer_path = argv[2];
  t0_model *model = NULL;
  if (t0_model_load(argv[1], &lp, &model, &err) != T0_OK) {
    fprintf(stderr, "load: %s\n", t0_error_message(err));
    t0_error_free(err);
    return 1;
  }

  /* Rank classification (T0's evaluation settings by default). */
  const char *text = "Premise: the street is wet. Hypothesis: it rained. True or false?";
  const char *choices[] = {"True", "False", "Maybe"};
  float scores[3];
  size_t best = 99;
  t0_score_params sp = t0_score_default_params();
  if (t0_model_score(model, text, choices, 3, &sp, scores, &best, &err) != T0_OK) {
    fprintf(stderr, "score: %s\n", t0_error_message(err));
    return 1;
  }
  for (size_t i = 0; i < 3; i++) printf("score\t%s\t%.5f\n", choices[i], (double)scores[i]);
  printf("best\t%s\n", choices[best]);
  /* README-END */

  /* Greedy generation, streamed. */
  size_t streamed = 0;
  t0_generate_params gp = t0_generate_default_params();
  gp.max_new_tokens = 12;
  gp.on_text = on_text;
  gp.user_data = &streamed;
  char *out = NULL;
  if (t0_model_generate(model, "Translate to French: the cat sleeps.", &gp, &out, &err) != T0_OK) {
    fprintf(stderr, "generate: %s\n", t0_error_message(err));
    return 1;
  }
  printf("generate\t%s\n", out);
  check(streamed == strlen(out), "streamed pieces add up to the text");
  t0_string_free(out);

  /* Tokenizer: ask for the length, then fill. */
  t0_tokenizer *tok = NULL;
  check(t0_model_tokenizer(model, &tok, NULL) == T0_OK, "model tokenizer");
  size_t n = 0;
  t0_status st = t0_tokenizer_encode(tok, "Hello world!", true, NULL, 0, &n, &err);
  expect_error(st, err, T0_ERR_BUFFER_TOO_SMALL, "encode length query");
  err = NULL;
  uint32_t *ids = malloc(n * sizeof *ids);
  check(t0_tokenizer_encode(tok, "Hello world!", true, ids, n, &n, NULL) == T0_OK, "encode");
  printf("tokens");
  for (size_t i = 0; i < n; i++) printf("%s%u", i ? " " : "\t", ids[i]);
  printf("\n");
  size_t len = 0;
  char small[4] = {'x', 'x', 'x', 'x'};
  st = t0_tokenizer_decode(tok, ids, n, small, sizeof small, &len, &err);
  expect_error(st, err, T0_ERR_BUFFER_TOO_SMALL, "decode into a small buffer");
  err = NULL;
  check(len == strlen("Hello world!") && small[0] == 'x' && small[3] == 'x',
        "required length returned, nothing partially written");
  char *dec = malloc(len + 1);
  check(t0_tokenizer_decode(tok, ids, n, dec, len + 1, &len, NULL) == T0_OK, "decode");
  printf("decode\t%s\n", dec);
  free(dec);
  free(ids);

  /* A PromptSource template applied to an HF dataset row, then ranked. */
  t0_templates *ts = NULL;
  if (t0_templates_load(argv[3], &ts, &err) != T0_OK) {
    fprintf(stderr, "templates: %s\n", t0_error_message(err));
    return 1;
  }
  t0_prompt *p = NULL;
  const char *row = "{\"premise\": \"It rains.\", \"hypothesis\": \"It is wet.\", \"idx\": 0, \"label\": 0}";
  if (t0_templates_apply(ts, "super_glue/rte", "does it follow that", row, &p, &err) != T0_OK) {
    fprintf(stderr, "apply: %s\n", t0_error_message(err));
    return 1;
  }
  size_t nc = t0_prompt_choice_count(p);
  const char **pc = malloc(nc * sizeof *pc);
  float *ps = malloc(nc * sizeof *ps);
  for (size_t i = 0; i < nc; i++) pc[i] = t0_prompt_choice(p, i);
  check(t0_model_score(model, t0_prompt_input(p), pc, nc, NULL, ps, &best, NULL) == T0_OK,
        "score prompt");
  printf("prompt\t%s\n", t0_prompt_input(p));
  printf("prompt_best\t%s\t(target %s)\n", pc[best], t0_prompt_target(p));
  free(pc);
  free(ps);
  t0_prompt_free(p);

  /* Error paths: each returns a status and a message, writes nothing, never crashes. */
  t0_model *m2 = (t0_model *)0x1; /* must stay untouched */
  EXPECT(T0_ERR_NULL_ARGUMENT, "NULL dir", t0_model_load(NULL, NULL, &m2, &err));
  EXPECT(T0_ERR_LOAD, "missing directory", t0_model_load("/nonexistent/t0-model", NULL, &m2, &err));
  check(m2 == (t0_model *)0x1, "out-parameter untouched on failure");
  EXPECT(T0_ERR_NULL_ARGUMENT, "NULL out_model", t0_model_load(argv[1], NULL, NULL, &err));
  const char *bad[] = {"abc\x80xy", "\xe3\x81", "\xc0\x82"};
  for (int i = 0; i < 3; i++) {
    EXPECT(T0_ERR_INVALID_UTF8, "invalid UTF-8 to encode", t0_tokenizer_encode(tok, bad[i], false, NULL, 0, &n, &err));
    EXPECT(T0_ERR_INVALID_UTF8, "invalid UTF-8 to score", t0_model_score(model, bad[i], choices, 3, NULL, scores, &best, &err));
    EXPECT(T0_ERR_INVALID_UTF8, "invalid UTF-8 choice", t0_model_score(model, text, bad + i, 1, NULL, scores, &best, &err));
  }
  EXPECT(T0_ERR_NULL_ARGUMENT, "NULL model", t0_model_score(NULL, text, choices, 3, NULL, scores, &best, &err));
  EXPECT(T0_ERR_NULL_ARGUMENT, "NULL text", t0_model_generate(model, NULL, NULL, &out, &err));
  EXPECT(T0_ERR_NULL_ARGUMENT, "NULL tokenizer", t0_tokenizer_encode(NULL, "x", false, NULL, 0, &n, &err));
  EXPECT(T0_ERR_TEMPLATE, "unknown template", t0_templates_apply(ts, "super_glue/rte", "no such template", row, &p, &err));
  err = NULL;
  EXPECT(T0_ERR_INVALID_ARGUMENT, "malformed example JSON",
         t0_templates_apply(ts, "super_glue/rte", "does it follow that", "{not json", &p, &err));
  /* A NULL err is allowed: the status alone reports the failure. */
  check(t0_model_load(NULL, NULL, &m2, NULL) == T0_ERR_NULL_ARGUMENT, "NULL err pointer");

  /* The model's tokenizer copy outlives the model. */
  t0_model_free(model);
  check(t0_tokenizer_encode(tok, "still here", false, NULL, 0, &n, NULL) ==
            T0_ERR_BUFFER_TOO_SMALL && n > 0,
        "tokenizer usable after its model is freed");

  t0_tokenizer_free(tok);
  t0_templates_free(ts);
  t0_model_free(NULL);
  t0_tokenizer_free(NULL);
  t0_templates_free(NULL);
  t0_prompt_free(NULL);
  t0_error_free(NULL);
  t0_string_free(NULL);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  fprintf(stderr, "all C API checks passed (t0 %s)\n", t0_version());
  return 0;
}
