//! The safetensors parser on arbitrary bytes: never panics, and whatever it accepts is
//! consistent (every view has exactly dtype × shape bytes, the views tile the data).
#![no_main]

use libfuzzer_sys::fuzz_target;
use t0_core::safetensors::{SafeTensors, parse_header};
use t0_core::tensor::TensorSource;

fn check(bytes: &[u8]) {
    let Ok(st) = SafeTensors::parse(bytes) else {
        return;
    };
    let mut total = 0usize;
    for name in st.tensor_names() {
        let t = st.tensor(name).expect("listed tensor is present");
        let numel: usize = t.shape.iter().product();
        assert_eq!(t.data.len(), numel * t.dtype.size());
        total += t.data.len();
        let _ = t.to_f32_vec();
    }
    assert_eq!(total + st.header().data_start, bytes.len());
}

fuzz_target!(|data: &[u8]| {
    // As a whole file.
    check(data);
    // As header text behind a correct length prefix, with a small data section, so the
    // fuzzer spends its time inside the JSON and offset checks.
    if let Some((&extra, json)) = data.split_first() {
        let mut file = (json.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(json);
        file.resize(file.len() + extra as usize, 0);
        check(&file);
        let _ = parse_header(json, 8 + json.len(), extra as usize);
    }
});
