//! minijinja probe: promptsource's `apply` on minijinja, compared with the goldens.
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use minijinja::value::Value as MV;
use minijinja::{Environment, Error, ErrorKind};
use t0_prompts::jinja::PyRandom;
use t0_prompts::serde_json::{self, Value as J};
use t0_prompts::{PIPE_PROTECTOR, TemplateCollection};

fn env(rng: Arc<Mutex<PyRandom>>) -> Environment<'static> {
    let mut env = Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_keep_trailing_newline(false);
    // Jinja2's truncate(s, length, killwords=False, end="...", leeway=5).
    env.add_filter("truncate", |s: String, length: Option<usize>| -> String {
        let length = length.unwrap_or(255);
        let n = s.chars().count();
        if n <= length + 5 {
            return s;
        }
        let keep: String = s.chars().take(length - 3).collect();
        let base = match keep.rfind(' ') { Some(i) => keep[..i].to_string(), None => keep };
        base + "..."
    });
    let r = rng.clone();
    env.add_filter("choice", move |v: MV| -> Result<MV, Error> {
        let n = v.len().unwrap_or(0);
        if n == 0 {
            return Err(Error::new(ErrorKind::InvalidOperation, "empty"));
        }
        let i = r.lock().unwrap().randbelow(n as u64) as usize;
        v.get_item(&MV::from(i))
    });
    env.add_filter("random", move |v: MV| -> Result<MV, Error> {
        let n = v.len().unwrap_or(0);
        if n == 0 {
            return Ok(MV::UNDEFINED);
        }
        let i = rng.lock().unwrap().randbelow(n as u64) as usize;
        v.get_item(&MV::from(i))
    });
    env.add_filter("most_frequent", |v: MV| -> Result<MV, Error> {
        let items: Vec<MV> = v.try_iter()?.collect();
        let mut counts: Vec<(MV, usize)> = Vec::new();
        for it in items {
            match counts.iter_mut().find(|(k, _)| *k == it) {
                Some(c) => c.1 += 1,
                None => counts.push((it, 1)),
            }
        }
        let max = counts.iter().map(|c| c.1).max().unwrap_or(0);
        Ok(MV::from(counts.into_iter().filter(|c| c.1 == max).map(|c| c.0).collect::<Vec<_>>()))
    });
    env.add_function("zip", |a: MV, b: MV| -> Result<MV, Error> {
        let a: Vec<MV> = a.try_iter()?.collect();
        let b: Vec<MV> = b.try_iter()?.collect();
        Ok(MV::from(a.into_iter().zip(b).map(|(x, y)| MV::from(vec![x, y])).collect::<Vec<_>>()))
    });
    env
}

fn protect(ex: &J) -> BTreeMap<String, J> {
    ex.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = match v {
                        J::String(s) => J::String(s.replace("|||", PIPE_PROTECTOR)),
                        o => o.clone(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn apply(jinja: &str, ac: Option<&str>, ex: &J, seed: u64) -> Result<(Vec<String>, Option<Vec<String>>), String> {
    let rng = Arc::new(Mutex::new(PyRandom::new(seed)));
    let env = env(rng);
    let mut ctx = protect(ex);
    let choices = match ac {
        None => None,
        Some(src) => {
            let out = env.render_str(src, &ctx).map_err(|e| e.to_string())?;
            Some(out.split("|||").map(|c| c.trim().replace(PIPE_PROTECTOR, "|||")).collect::<Vec<_>>())
        }
    };
    ctx.insert("answer_choices".into(), serde_json::to_value(&choices).unwrap());
    let src = jinja.replace("}}", " | string | truncate(2048) }}");
    let out = env.render_str(&src, &ctx).map_err(|e| e.to_string())?;
    Ok((out.split("|||").map(|p| p.replace(PIPE_PROTECTOR, "|||").trim().to_string()).collect(), choices))
}

fn main() {
    let dir = std::env::args().nth(1).expect("templates dir");
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../t0-prompts/tests/golden/promptsource.jsonl.gz");
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(golden).unwrap()).read_to_string(&mut s).unwrap();
    let coll = TemplateCollection::load(&dir).unwrap();
    // template -> (python ok cases, identical, bad)
    let mut per: BTreeMap<(String, String), (usize, usize, bool)> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for line in s.lines() {
        let l: J = serde_json::from_str(line).unwrap();
        if l.get("result").is_none() {
            continue;
        }
        let folder = l["folder"].as_str().unwrap().to_string();
        let id = l["template_id"].as_str().unwrap().to_string();
        let t = coll.get(&folder).unwrap().by_id(&id).unwrap();
        let e = per.entry((folder, id)).or_default();
        let ours = std::panic::catch_unwind(|| apply(&t.jinja, t.answer_choices.as_deref(), &l["example"], l["seed"].as_u64().unwrap()));
        let ours = ours.unwrap_or_else(|_| Err("panic".into()));
        match (l["result"].get("parts"), ours) {
            (Some(p), Ok((parts, ac))) => {
                e.0 += 1;
                let pp: Vec<String> = serde_json::from_value(p.clone()).unwrap();
                let pac: Option<Vec<String>> = serde_json::from_value(l["result"]["answer_choices"].clone()).unwrap();
                if pp == parts && pac == ac { e.1 += 1 } else { e.2 = true }
            }
            (Some(_), Err(msg)) => {
                e.0 += 1;
                e.2 = true;
                let key: String = msg.chars().take(60).collect();
                *errors.entry(key).or_default() += 1;
            }
            (None, Err(_)) => {}
            (None, Ok(_)) => e.2 = true,
        }
    }
    let total = per.len();
    let identical = per.values().filter(|v| !v.2 && v.0 > 0).count();
    println!("minijinja: {identical}/{total} templates identical");
    let mut errs: Vec<_> = errors.into_iter().collect();
    errs.sort_by(|a, b| b.1.cmp(&a.1));
    for (m, n) in errs.iter().take(12) {
        println!("  {n:5} cases fail: {m}");
    }
}
