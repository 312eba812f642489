//! The C ABI called as C would: error paths (robustness items 25–28), buffer negotiation,
//! sharing one model between threads, and parity with the Rust API.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use t0::*;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn message(e: *const t0_error) -> String {
    // SAFETY: `e` is a live error (or NULL, which yields "").
    unsafe { CStr::from_ptr(t0_error_message(e)) }
        .to_str()
        .unwrap()
        .to_string()
}

struct Fixture {
    model: *mut t0_model,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = c(&format!("{ROOT}/t0-core/tests/fixtures/models/t5style_4k"));
        let tok = c(&format!(
            "{ROOT}/t0-core/tests/fixtures/tokenizer/t5style-4k.model"
        ));
        let mut p = t0_load_default_params();
        p.tokenizer_path = tok.as_ptr();
        let mut model = ptr::null_mut();
        let mut err = ptr::null_mut();
        let st = t0_model_load(dir.as_ptr(), &p, &mut model, &mut err);
        assert_eq!(st, t0_status::T0_OK, "{}", message(err));
        Fixture { model }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        t0_model_free(self.model);
    }
}

#[test]
fn null_arguments_are_errors_and_nothing_is_written() {
    let f = Fixture::new();
    let mut err = ptr::null_mut();
    let sentinel = ptr::dangling_mut::<t0_model>();
    let mut out: *mut t0_model = sentinel;
    assert_eq!(
        t0_model_load(ptr::null(), ptr::null(), &mut out, &mut err),
        t0_status::T0_ERR_NULL_ARGUMENT
    );
    assert!(message(err).contains("dir"));
    assert_eq!(out, sentinel);
    t0_error_free(err);
    let text = c("x");
    let mut s: *mut c_char = ptr::null_mut();
    assert_eq!(
        t0_model_generate(
            f.model,
            text.as_ptr(),
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut()
        ),
        t0_status::T0_ERR_NULL_ARGUMENT
    );
    assert_eq!(
        t0_model_generate(
            ptr::null(),
            text.as_ptr(),
            ptr::null(),
            &mut s,
            ptr::null_mut()
        ),
        t0_status::T0_ERR_NULL_ARGUMENT
    );
    assert!(s.is_null());
    let mut scores = [0f32; 2];
    assert_eq!(
        t0_model_score(
            f.model,
            text.as_ptr(),
            ptr::null(),
            2,
            ptr::null(),
            scores.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut()
        ),
        t0_status::T0_ERR_NULL_ARGUMENT
    );
    // A NULL element of the choices array.
    let choices = [text.as_ptr(), ptr::null()];
    let mut err = ptr::null_mut();
    assert_eq!(
        t0_model_score(
            f.model,
            text.as_ptr(),
            choices.as_ptr(),
            2,
            ptr::null(),
            scores.as_mut_ptr(),
            ptr::null_mut(),
            &mut err
        ),
        t0_status::T0_ERR_NULL_ARGUMENT
    );
    assert!(message(err).contains("choices[1]"), "{}", message(err));
    assert_eq!(scores, [0.0, 0.0]);
    t0_error_free(err);
    // free(NULL) is a no-op everywhere.
    t0_model_free(ptr::null_mut());
    t0_tokenizer_free(ptr::null_mut());
    t0_templates_free(ptr::null_mut());
    t0_prompt_free(ptr::null_mut());
    t0_error_free(ptr::null_mut());
    t0_string_free(ptr::null_mut());
    assert_eq!(t0_prompt_choice_count(ptr::null()), 0);
    assert!(t0_prompt_target(ptr::null()).is_null());
}

#[test]
fn invalid_utf8_is_an_error() {
    let f = Fixture::new();
    let mut tok = ptr::null_mut();
    assert_eq!(
        t0_model_tokenizer(f.model, &mut tok, ptr::null_mut()),
        t0_status::T0_OK
    );
    for bad in [&b"abc\x80xy"[..], b"\xe3\x81", b"\xc0\x82"] {
        let s = CString::new(bad).unwrap();
        let mut n = 77usize;
        let mut err = ptr::null_mut();
        let st = t0_tokenizer_encode(tok, s.as_ptr(), false, ptr::null_mut(), 0, &mut n, &mut err);
        assert_eq!(st, t0_status::T0_ERR_INVALID_UTF8);
        assert_eq!(t0_error_status(err), t0_status::T0_ERR_INVALID_UTF8);
        assert!(
            message(err).contains("text is not valid UTF-8"),
            "{}",
            message(err)
        );
        assert_eq!(n, 77);
        t0_error_free(err);
        let mut out = ptr::null_mut();
        let st = t0_model_generate(f.model, s.as_ptr(), ptr::null(), &mut out, ptr::null_mut());
        assert_eq!(st, t0_status::T0_ERR_INVALID_UTF8);
        assert!(out.is_null());
    }
    t0_tokenizer_free(tok);
}

#[test]
fn buffers_too_small_report_the_size_and_write_nothing() {
    let f = Fixture::new();
    let mut tok = ptr::null_mut();
    t0_model_tokenizer(f.model, &mut tok, ptr::null_mut());
    let text = c("Hello world, again!");
    let mut n = 0usize;
    assert_eq!(
        t0_tokenizer_encode(
            tok,
            text.as_ptr(),
            true,
            ptr::null_mut(),
            0,
            &mut n,
            ptr::null_mut()
        ),
        t0_status::T0_ERR_BUFFER_TOO_SMALL
    );
    assert!(n > 2);
    let mut ids = vec![u32::MAX; n - 1];
    let mut n2 = 0usize;
    assert_eq!(
        t0_tokenizer_encode(
            tok,
            text.as_ptr(),
            true,
            ids.as_mut_ptr(),
            n - 1,
            &mut n2,
            ptr::null_mut()
        ),
        t0_status::T0_ERR_BUFFER_TOO_SMALL
    );
    assert_eq!(n2, n);
    assert!(
        ids.iter().all(|&i| i == u32::MAX),
        "nothing partially written"
    );
    ids.resize(n, 0);
    assert_eq!(
        t0_tokenizer_encode(
            tok,
            text.as_ptr(),
            true,
            ids.as_mut_ptr(),
            n,
            &mut n2,
            ptr::null_mut()
        ),
        t0_status::T0_OK
    );
    let want_text = "Hello world, again!";
    let mut len = 0usize;
    // Exactly the length is one byte short (the NUL).
    let mut buf = vec![b'#' as c_char; want_text.len()];
    let mut err = ptr::null_mut();
    assert_eq!(
        t0_tokenizer_decode(
            tok,
            ids.as_ptr(),
            n,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
            &mut err
        ),
        t0_status::T0_ERR_BUFFER_TOO_SMALL
    );
    assert_eq!(len, want_text.len());
    assert!(buf.iter().all(|&b| b == b'#' as c_char));
    assert!(message(err).contains(&format!("{}", want_text.len() + 1)));
    t0_error_free(err);
    buf.resize(len + 1, 0);
    assert_eq!(
        t0_tokenizer_decode(
            tok,
            ids.as_ptr(),
            n,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
            ptr::null_mut()
        ),
        t0_status::T0_OK
    );
    // SAFETY: on success the buffer holds a NUL-terminated string.
    let got = unsafe { CStr::from_ptr(buf.as_ptr()) };
    assert_eq!(got.to_str().unwrap(), want_text);
    // Ids outside the vocabulary are an error, not a panic.
    let bad = [5u32, 9_999_999];
    assert_eq!(
        t0_tokenizer_decode(
            tok,
            bad.as_ptr(),
            2,
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
            ptr::null_mut()
        ),
        t0_status::T0_ERR_TOKENIZER
    );
    t0_tokenizer_free(tok);
}

#[test]
fn missing_directory_and_files_are_load_errors() {
    let dir = c("/nonexistent/t0-model");
    let mut m = ptr::null_mut();
    let mut err = ptr::null_mut();
    assert_eq!(
        t0_model_load(dir.as_ptr(), ptr::null(), &mut m, &mut err),
        t0_status::T0_ERR_LOAD
    );
    assert!(message(err).contains("/nonexistent/t0-model"));
    assert!(m.is_null());
    t0_error_free(err);
    let mut t = ptr::null_mut();
    assert_eq!(
        t0_tokenizer_load(dir.as_ptr(), &mut t, ptr::null_mut()),
        t0_status::T0_ERR_TOKENIZER
    );
    let mut ts = ptr::null_mut();
    assert_eq!(
        t0_templates_load(dir.as_ptr(), &mut ts, ptr::null_mut()),
        t0_status::T0_ERR_TEMPLATE
    );
}

#[test]
fn scores_equal_the_rust_api_and_threads_share_one_model() {
    let f = Fixture::new();
    let opts = t0_core::LoadOptions {
        tokenizer: Some(format!("{ROOT}/t0-core/tests/fixtures/tokenizer/t5style-4k.model").into()),
        ..Default::default()
    };
    let rust = t0_core::Model::load(
        format!("{ROOT}/t0-core/tests/fixtures/models/t5style_4k"),
        &opts,
    )
    .unwrap();
    let texts = [
        "It rains. Is it wet?",
        "Pick one: red or blue?",
        "Is 2 + 2 = 4?",
        "ok",
    ];
    let choices = ["yes", "no", "maybe not"];
    let cchoices: Vec<CString> = choices.iter().map(|s| c(s)).collect();
    let ptrs: Vec<*const c_char> = cchoices.iter().map(|s| s.as_ptr()).collect();
    struct Shared(*const t0_model, Vec<*const c_char>);
    // SAFETY: the header documents t0_model as safe for concurrent calls; the choice
    // strings are only read and outlive the scope.
    unsafe impl Sync for Shared {}
    let shared = Shared(f.model, ptrs);
    std::thread::scope(|s| {
        for text in texts {
            let (shared, rust) = (&shared, &rust);
            s.spawn(move || {
                for _ in 0..3 {
                    let ct = c(text);
                    let mut scores = [0f32; 3];
                    let mut best = 9usize;
                    let st = t0_model_score(
                        shared.0,
                        ct.as_ptr(),
                        shared.1.as_ptr(),
                        3,
                        ptr::null(),
                        scores.as_mut_ptr(),
                        &mut best,
                        ptr::null_mut(),
                    );
                    assert_eq!(st, t0_status::T0_OK);
                    let want = rust
                        .score(text, &choices, &t0_core::ScoreOptions::t_zero())
                        .unwrap();
                    assert_eq!(scores.to_vec(), want.scores);
                    assert_eq!(best, want.best);
                }
            });
        }
    });
}

unsafe extern "C" fn stop_after_two(
    _piece: *const c_char,
    _len: usize,
    user: *mut std::ffi::c_void,
) -> bool {
    // SAFETY: the test passes a `*mut usize` as user data.
    let n = unsafe { &mut *(user as *mut usize) };
    *n += 1;
    *n < 2
}

#[test]
fn streaming_callback_can_stop_generation() {
    let f = Fixture::new();
    let mut calls = 0usize;
    let mut p = t0_generate_default_params();
    p.max_new_tokens = 30;
    p.min_new_tokens = 30;
    p.on_text = Some(stop_after_two);
    p.user_data = (&mut calls as *mut usize).cast();
    let text = c("Tell me a story.");
    let mut out = ptr::null_mut();
    assert_eq!(
        t0_model_generate(f.model, text.as_ptr(), &p, &mut out, ptr::null_mut()),
        t0_status::T0_OK
    );
    assert_eq!(calls, 2);
    t0_string_free(out);
    // The model stays usable.
    let mut out = ptr::null_mut();
    assert_eq!(
        t0_model_generate(
            f.model,
            text.as_ptr(),
            ptr::null(),
            &mut out,
            ptr::null_mut()
        ),
        t0_status::T0_OK
    );
    t0_string_free(out);
}

#[test]
fn sampling_and_beam_params_reach_the_generator() {
    let f = Fixture::new();
    let text = c("Tell me a story.");
    let run = |p: &t0_generate_params| {
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        let st = t0_model_generate(f.model, text.as_ptr(), p, &mut out, &mut err);
        if st != t0_status::T0_OK {
            let m = message(err);
            t0_error_free(err);
            return Err((st, m));
        }
        // SAFETY: on success `out` is a NUL-terminated string from t0.
        let s = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        t0_string_free(out);
        Ok(s)
    };
    let mut p = t0_generate_default_params();
    p.max_new_tokens = 10;
    p.do_sample = true;
    p.seed = 3;
    let a = run(&p).unwrap();
    assert_eq!(run(&p).unwrap(), a, "same seed, same text");
    p.temperature = 0.0;
    let (st, m) = run(&p).unwrap_err();
    assert_eq!(st, t0_status::T0_ERR_INVALID_ARGUMENT, "{m}");
    let mut b = t0_generate_default_params();
    b.max_new_tokens = 10;
    b.num_beams = 3;
    assert!(run(&b).is_ok());
    b.num_beams = 0;
    assert_eq!(run(&b).unwrap_err().0, t0_status::T0_ERR_INVALID_ARGUMENT);
}
