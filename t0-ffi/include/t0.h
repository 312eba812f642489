/* t0: the C ABI. Generated from t0-ffi by cbindgen: do not edit; run
 * `T0_BLESS=1 cargo test -p t0-ffi --test header`.
 *
 * Conventions:
 * - Opaque handles t0_model, t0_tokenizer, t0_templates, t0_prompt, t0_error, each
 *   created by a *_load / *_apply function and released by its *_free; *_free(NULL) is a
 *   no-op. Strings returned by t0_model_generate are freed with t0_string_free.
 * - Every fallible function returns a t0_status (T0_OK == 0). Its last argument
 *   `t0_error **err` may be NULL; otherwise on failure *err receives a new error object
 *   (message: t0_error_message; free with t0_error_free); on success *err is untouched.
 * - Out-parameters are written only on success, except the required length on
 *   T0_ERR_BUFFER_TOO_SMALL (caller-owned buffers: call again with a larger one).
 * - String arguments are NUL-terminated UTF-8; anything else is T0_ERR_INVALID_UTF8.
 * - No panic crosses the boundary: one is reported as T0_ERR_PANIC, process alive.
 * - Threads: t0_model, t0_tokenizer and t0_templates are immutable after loading, so any
 *   number of threads may call functions on one handle at once; freeing a handle while
 *   another thread uses it is undefined behaviour. t0_error and t0_prompt objects belong
 *   to one thread at a time. Borrowed strings (t0_error_message, t0_prompt_*) live until
 *   their object is freed.
 */

#ifndef T0_H
#define T0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 Status of every fallible call. `T0_OK` (0) is success.
 */
typedef enum {
  /*
   Success.
   */
  T0_OK = 0,
  /*
   A required pointer argument was NULL (the message names it). Nothing was written.
   */
  T0_ERR_NULL_ARGUMENT = 1,
  /*
   A string argument is not valid UTF-8 (the message names it and the byte offset).
   */
  T0_ERR_INVALID_UTF8 = 2,
  /*
   An argument is out of range or malformed (the message says which and why).
   */
  T0_ERR_INVALID_ARGUMENT = 3,
  /*
   A file or directory could not be read, or a checkpoint is malformed.
   */
  T0_ERR_LOAD = 4,
  /*
   A tokenizer file is malformed, or does not fit the model.
   */
  T0_ERR_TOKENIZER = 5,
  /*
   The model rejected its input (too long, empty...) or failed to run.
   */
  T0_ERR_MODEL = 6,
  /*
   A template could not be found or applied.
   */
  T0_ERR_TEMPLATE = 7,
  /*
   The output buffer is too small: the required length was written to the length
   out-parameter and nothing else was written.
   */
  T0_ERR_BUFFER_TOO_SMALL = 8,
  /*
   A panic inside t0 was caught (a bug in t0: please report the message).
   */
  T0_ERR_PANIC = 9,
} t0_status;

/*
 An error: a status plus a human-readable message. Owned by the caller; free with
 `t0_error_free`. Not shared between threads.
 */
typedef struct t0_error t0_error;

/*
 A loaded model with its tokenizer. Immutable: thread-safe for concurrent calls.
 */
typedef struct t0_model t0_model;

/*
 A template applied to an example: its input, target and answer choices. Owned by the
 caller; free with `t0_prompt_free`. Its strings live as long as the prompt.
 */
typedef struct t0_prompt t0_prompt;

/*
 A PromptSource templates folder. Immutable: thread-safe for concurrent calls.
 */
typedef struct t0_templates t0_templates;

/*
 A tokenizer. Immutable: thread-safe for concurrent calls.
 */
typedef struct t0_tokenizer t0_tokenizer;

/*
 Options of `t0_model_load`; get the defaults from `t0_load_default_params()`.
 */
typedef struct {
  /*
   A tokenizer file (`spiece.model` or `tokenizer.json`) to use instead of the one in
   the model directory; NULL (default) looks in the directory.
   */
  const char *tokenizer_path;
  /*
   Longest encoder input in tokens (default 1024).
   */
  uint32_t max_input_tokens;
  /*
   Longest decoder sequence: answer choice or max_new_tokens (default 512).
   */
  uint32_t max_target_tokens;
  /*
   Truncate over-long inputs instead of failing (default false).
   */
  bool truncate;
  /*
   Worker threads: 0 (default) lets the backend decide (the CPU backend uses rayon's global
   pool; size it with the `RAYON_NUM_THREADS` environment variable). Other values are an
   invalid argument for now.
   */
  uint32_t threads;
} t0_load_params;

/*
 Called by `t0_model_generate` with each new piece of generated text (`len` bytes of
 UTF-8, also NUL-terminated; valid only during the call). Return true to continue,
 false to stop generation early.
 */
typedef bool (*t0_text_callback)(const char *piece, size_t len, void *user_data);

/*
 Options of `t0_model_generate`; get the defaults from `t0_generate_default_params()`.
 */
typedef struct {
  /*
   Most tokens generated, EOS included (default 64).
   */
  uint32_t max_new_tokens;
  /*
   EOS is banned until this many tokens are generated (default 0).
   */
  uint32_t min_new_tokens;
  /*
   Beams per input (default 1: greedy or sampling). Beam search delivers its text to
   `on_text` once, at the end.
   */
  uint32_t num_beams;
  /*
   Sample instead of taking the best token (default false).
   */
  bool do_sample;
  /*
   Sampling temperature (default 1.0; > 0).
   */
  float temperature;
  /*
   Sample from the top_k best tokens only (default 50; 0: off).
   */
  uint32_t top_k;
  /*
   Nucleus sampling threshold in (0, 1] (default 1.0: off).
   */
  float top_p;
  /*
   Seed of the sampling RNG (default 0): same seed, same tokens.
   */
  uint64_t seed;
  /*
   Streaming callback, or NULL (default). With greedy decoding returning false stops
   generation; with sampling later pieces are no longer delivered.
   */
  t0_text_callback on_text;
  /*
   Passed to `on_text` unchanged.
   */
  void *user_data;
} t0_generate_params;

/*
 Options of `t0_model_score`; the defaults (`t0_score_default_params()`) are T0's
 evaluation: summed log-probabilities, input truncated to 1024 tokens, choices to 256.
 */
typedef struct {
  /*
   Mean instead of sum of the choice's token log-probabilities (default false).
   */
  bool length_normalize;
  /*
   Input truncation in tokens (default 1024).
   */
  uint32_t max_input_tokens;
  /*
   Choice truncation in tokens, EOS kept (default 256).
   */
  uint32_t max_choice_tokens;
} t0_score_params;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/*
 Returns the library version as a static NUL-terminated string. Never NULL; do not free.
 */
const char *t0_version(void);

/*
 The error's message (NUL-terminated UTF-8), valid until `t0_error_free(e)`. Returns ""
 for NULL.
 */
const char *t0_error_message(const t0_error *e);

/*
 The error's status (`T0_OK` for NULL).
 */
t0_status t0_error_status(const t0_error *e);

/*
 Frees an error. NULL is a no-op.
 */
void t0_error_free(t0_error *e);

/*
 A short static name of a status ("T0_OK", "T0_ERR_NULL_ARGUMENT", ...). Do not free.
 */
const char *t0_status_name(t0_status s);

/*
 Frees a string returned by t0 (`t0_model_generate`'s text). NULL is a no-op.
 */
void t0_string_free(char *s);

/*
 Default load options: tokenizer from the directory, 1024 input / 512 target tokens, no
 truncation, threads chosen by the backend.
 */
t0_load_params t0_load_default_params(void);

/*
 Loads a model directory (`config.json`, `model.safetensors` or a sharded index, and
 `spiece.model` or `tokenizer.json`). `params` may be NULL (defaults). On success
 `*out_model` receives a model to free with `t0_model_free`.
 */
t0_status t0_model_load(const char *dir,
                        const t0_load_params *params,
                        t0_model **out_model,
                        t0_error **err);

/*
 Frees a model. NULL is a no-op. No other thread may be using it.
 */
void t0_model_free(t0_model *model);

/*
 A copy of the model's tokenizer, independent of the model (free it with
 `t0_tokenizer_free`; it stays valid after `t0_model_free`).
 */
t0_status t0_model_tokenizer(const t0_model *model, t0_tokenizer **out_tokenizer, t0_error **err);

/*
 Default generation options: greedy, 64 new tokens at most, no minimum, no callback
 (sampling fields at HF's defaults: temperature 1, top_k 50, top_p 1, seed 0).
 */
t0_generate_params t0_generate_default_params(void);

/*
 Generation from `text` (tokenized with EOS): greedy, beam search or sampling as
 `params` say; invalid combinations (temperature <= 0, top_p outside (0, 1], num_beams
 0...) are `T0_ERR_INVALID_ARGUMENT`. `params` may be NULL (defaults).
 On success `*out_text` receives the whole generated text, to free with
 `t0_string_free`. With `params->on_text` set, each piece is also passed to it as soon as
 it is decoded; a callback returning false stops generation (still `T0_OK`, with the
 text so far).
 */
t0_status t0_model_generate(const t0_model *model,
                            const char *text,
                            const t0_generate_params *params,
                            char **out_text,
                            t0_error **err);

/*
 T0's evaluation settings: summed log-probabilities, input truncated to 1024 tokens,
 choices to 256.
 */
t0_score_params t0_score_default_params(void);

/*
 Rank classification: the log-likelihood of each of the `n_choices` answer choices given
 `text` (input tokenized without EOS, choices with EOS, as T0's evaluation). `params` may
 be NULL (defaults). On success `scores[0..n_choices]` receive the scores (the caller's
 array of `n_choices` floats) and `*out_best` (if not NULL) the index of the best choice
 (the first on ties).
 */
t0_status t0_model_score(const t0_model *model,
                         const char *text,
                         const char *const *choices,
                         size_t n_choices,
                         const t0_score_params *params,
                         float *scores,
                         size_t *out_best,
                         t0_error **err);

/*
 Loads a tokenizer: a `spiece.model` or `tokenizer.json` file, or a directory holding one.
 */
t0_status t0_tokenizer_load(const char *path, t0_tokenizer **out_tokenizer, t0_error **err);

/*
 Frees a tokenizer. NULL is a no-op.
 */
void t0_tokenizer_free(t0_tokenizer *tokenizer);

/*
 Token ids of `text` (EOS appended when `add_eos`). Buffer negotiation: `*out_len`
 receives the number of ids; when it exceeds `capacity` the status is
 `T0_ERR_BUFFER_TOO_SMALL` and `ids` is not written (pass `ids = NULL, capacity = 0` to
 ask for the length).
 */
t0_status t0_tokenizer_encode(const t0_tokenizer *tokenizer,
                              const char *text,
                              bool add_eos,
                              uint32_t *ids,
                              size_t capacity,
                              size_t *out_len,
                              t0_error **err);

/*
 Text of `n_ids` ids (special tokens dropped, as HF's `skip_special_tokens=True`).
 Buffer negotiation: `*out_len` receives the text's length in bytes without the NUL; it
 is written to `buf` (NUL-terminated) only when `capacity > *out_len`, otherwise the
 status is `T0_ERR_BUFFER_TOO_SMALL` and `buf` is untouched. Ids outside the vocabulary
 are an error.
 */
t0_status t0_tokenizer_decode(const t0_tokenizer *tokenizer,
                              const uint32_t *ids,
                              size_t n_ids,
                              char *buf,
                              size_t capacity,
                              size_t *out_len,
                              t0_error **err);

/*
 Loads every `templates.yaml` under a PromptSource templates folder.
 */
t0_status t0_templates_load(const char *dir, t0_templates **out_templates, t0_error **err);

/*
 Frees a templates handle. NULL is a no-op.
 */
void t0_templates_free(t0_templates *templates);

/*
 Applies template `name` (name or id) of `dataset` (`"super_glue/rte"`) to an example
 given as a JSON object (an HF dataset row), as promptsource's `Template.apply`. On
 success `*out_prompt` receives the rendered prompt (free with `t0_prompt_free`).
 */
t0_status t0_templates_apply(const t0_templates *templates,
                             const char *dataset,
                             const char *name,
                             const char *example_json,
                             t0_prompt **out_prompt,
                             t0_error **err);

/*
 The rendered input (NUL-terminated; valid until `t0_prompt_free`). "" for NULL.
 */
const char *t0_prompt_input(const t0_prompt *prompt);

/*
 The rendered target, or NULL when the template produced none (valid until
 `t0_prompt_free`).
 */
const char *t0_prompt_target(const t0_prompt *prompt);

/*
 Number of answer choices (0 when the template has none, or for NULL).
 */
size_t t0_prompt_choice_count(const t0_prompt *prompt);

/*
 Answer choice `i`, or NULL when out of range (valid until `t0_prompt_free`).
 */
const char *t0_prompt_choice(const t0_prompt *prompt, size_t i);

/*
 Frees a prompt. NULL is a no-op.
 */
void t0_prompt_free(t0_prompt *prompt);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* T0_H */
