//! Print the shapes of the T0 presets: `cargo run -p t0-examples --example config`.
use t0_core::T5Config;

fn main() {
    for (name, cfg) in [
        ("base", T5Config::t0_base()),
        ("T0_3B", T5Config::t0_3b()),
        ("T0pp", T5Config::t0pp()),
    ] {
        println!(
            "{name}: d_model {} d_ff {} heads {}x{} layers {}+{} vocab {}",
            cfg.d_model,
            cfg.d_ff,
            cfg.num_heads,
            cfg.d_kv,
            cfg.num_layers,
            cfg.num_decoder_layers,
            cfg.vocab_size
        );
    }
}
