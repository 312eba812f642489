// The t0 C API from C++: RAII owners over the opaque handles, rank classification of a
// PromptSource prompt, and an error turned into an exception.
//
//   c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -I t0-ffi/include examples/cpp/t0_example.cpp
//       target/debug/libt0.a -lpthread -ldl -lm -o t0_example_cpp
//   ./t0_example_cpp MODEL_DIR TOKENIZER_FILE TEMPLATES_DIR
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "t0.h"

namespace {

struct ModelFree { void operator()(t0_model *m) const { t0_model_free(m); } };
struct TemplatesFree { void operator()(t0_templates *t) const { t0_templates_free(t); } };
struct PromptFree { void operator()(t0_prompt *p) const { t0_prompt_free(p); } };
struct ErrorFree { void operator()(t0_error *e) const { t0_error_free(e); } };

// Throws std::runtime_error carrying t0's message when `st` is not T0_OK. Takes `&err`
// (read after the call has filled it: argument evaluation order is unspecified).
void ok(t0_status st, t0_error **errp) {
  t0_error *err = *errp;
  *errp = nullptr;
  std::unique_ptr<t0_error, ErrorFree> owned(err);
  if (st != T0_OK) {
    throw std::runtime_error(std::string(t0_status_name(st)) + ": " + t0_error_message(err));
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s MODEL_DIR TOKENIZER_FILE TEMPLATES_DIR\n", argv[0]);
    return 2;
  }
  try {
    t0_error *err = nullptr;
    t0_load_params lp = t0_load_default_params();
    lp.tokenizer_path = argv[2];
    t0_model *raw_model = nullptr;
    ok(t0_model_load(argv[1], &lp, &raw_model, &err), &err);
    std::unique_ptr<t0_model, ModelFree> model(raw_model);

    t0_templates *raw_ts = nullptr;
    err = nullptr;
    ok(t0_templates_load(argv[3], &raw_ts, &err), &err);
    std::unique_ptr<t0_templates, TemplatesFree> ts(raw_ts);

    const char *row = R"({"premise": "It rains.", "hypothesis": "It is wet.", "idx": 0, "label": 0})";
    t0_prompt *raw_p = nullptr;
    err = nullptr;
    ok(t0_templates_apply(ts.get(), "super_glue/rte", "does it follow that", row, &raw_p, &err), &err);
    std::unique_ptr<t0_prompt, PromptFree> p(raw_p);

    std::vector<const char *> choices;
    for (size_t i = 0; i < t0_prompt_choice_count(p.get()); i++) {
      choices.push_back(t0_prompt_choice(p.get(), i));
    }
    std::vector<float> scores(choices.size());
    size_t best = 0;
    err = nullptr;
    ok(t0_model_score(model.get(), t0_prompt_input(p.get()), choices.data(), choices.size(),
                      nullptr, scores.data(), &best, &err),
       &err);
    std::printf("prompt\t%s\n", t0_prompt_input(p.get()));
    std::printf("prompt_best\t%s\t(target %s)\n", choices[best], t0_prompt_target(p.get()));

    // Errors become exceptions with t0's message.
    try {
      err = nullptr;
      t0_model *none = nullptr;
      ok(t0_model_load("/nonexistent/t0-model", nullptr, &none, &err), &err);
      std::fprintf(stderr, "FAILED: loading a missing directory succeeded\n");
      return 1;
    } catch (const std::runtime_error &e) {
      std::fprintf(stderr, "expected error: %s\n", e.what());
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
