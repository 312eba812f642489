//! Property tests of the name parsers (repo ids, file names, globs): any input gives a
//! result or an error, never a panic; what is accepted is safe to use as a path in the
//! cache and round-trips.

use proptest::prelude::*;
use t0_hub::{ModelRef, check_file_name, glob_match};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn repo_ids_never_panic_and_accepted_ones_are_safe(spec in ".{0,80}") {
        if let Ok(m) = ModelRef::parse(&spec) {
            let folder = m.folder_name();
            prop_assert!(!folder.contains('/') && !folder.contains('\\') && !folder.contains(".."));
            prop_assert!(folder.starts_with("models--"));
            prop_assert_eq!(ModelRef::parse(&m.to_string()).unwrap(), m.clone());
            prop_assert!(!m.revision().split('/').any(|c| c.is_empty() || c == ".."));
        }
    }

    #[test]
    fn valid_ids_are_accepted(
        owner in "[A-Za-z0-9][A-Za-z0-9_]{0,20}",
        name in "[A-Za-z0-9][A-Za-z0-9_.-]{0,30}[A-Za-z0-9]",
        rev in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}(/[A-Za-z0-9_][A-Za-z0-9_-]{0,10}){0,2}",
    ) {
        prop_assume!(!name.contains("--") && !name.contains(".."));
        let m = ModelRef::parse(&format!("{owner}/{name}@{rev}")).unwrap();
        prop_assert_eq!(m.repo_id(), format!("{owner}/{name}"));
        prop_assert_eq!(m.revision(), rev.as_str());
    }

    #[test]
    fn file_names_accepted_stay_inside_the_snapshot(name in "[a-z./\\\\:]{0,24}") {
        if check_file_name(&name).is_ok() {
            let p = std::path::Path::new(&name);
            prop_assert!(p.is_relative());
            prop_assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))));
        }
    }

    #[test]
    fn globs_never_panic_and_literals_match_themselves(p in "[a-c*?]{0,12}", n in "[a-c]{0,12}") {
        let _ = glob_match(&p, &n);
        prop_assert!(glob_match(&n, &n));
        prop_assert!(glob_match("*", &n));
        let (pat, name) = (format!("*{}", n), format!("x{}", n));
        prop_assert!(glob_match(&pat, &name));
    }
}
