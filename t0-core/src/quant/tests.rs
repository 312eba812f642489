use super::*;

#[test]
fn islands_pick_by_name() {
    let d = Islands::default();
    assert!(d.keeps("lm_head.weight"));
    assert!(!d.keeps("decoder.block.0.layer.2.DenseReluDense.wo.weight"));
    let w = Islands {
        ffn_wo: true,
        ..Islands::none()
    };
    assert!(w.keeps("decoder.block.0.layer.2.DenseReluDense.wo.weight"));
    assert!(!w.keeps("lm_head.weight"));
    assert_eq!(QuantScheme::parse("q4"), Some(QuantScheme::Q4));
    assert_eq!(QuantScheme::parse("q3"), None);
}
