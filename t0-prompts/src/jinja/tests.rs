//! Engine unit tests; expected strings are what jinja2 3.0.3 on Python 3.11 prints.

use super::*;

fn r(src: &str) -> Result<String, Error> {
    Template::new(src)?.render(&HashMap::new(), &mut PyRandom::new(0), Limits::default())
}

#[test]
fn python_semantics() {
    let cases = [
        // Loop bodies get a fresh scope each iteration that falls back to the outer one.
        (
            "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = i %}{{x}};{% endfor %}{{x}}",
            "00;01;02;0",
        ),
        (
            "{% for i in range(3) %}{{ x }}{% set x = i %}{% endfor %}",
            "",
        ),
        ("{% if true %}{% set z = 5 %}{% endif %}{{ z }}", "5"),
        (
            "{{ [1,2.5,\"a\",None,True,(1,2),{\"k\":\"v\"}, \"it's\"] }}",
            "[1, 2.5, 'a', None, True, (1, 2), {'k': 'v'}, \"it's\"]",
        ),
        (
            "{{ 1e16 }} {{ 1.0 }} {{ 0.1+0.2 }} {{ 1e-5 }} {{ 3/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ -1|abs }}",
            "1e+16 1.0 0.30000000000000004 1e-05 1.5 2.0 3 -4 2 1024 2.0 4.0 2.67 1",
        ),
        ("{{ \"abc\"[5] }}|{{ [1][3] }}|{{ {\"a\":1}.b }}", "||"),
        ("{{ \"a\" ~ 1 ~ none ~ x }}", "a1None"),
        ("{{ \"abc\".foo }}", ""),
        (
            "{{ \"a b c d e f\" | truncate(5) }}|{{ \"abcdefghij\" | truncate(3) }}",
            "a...|...",
        ),
        (
            "{% for a in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }} {% endfor %}",
            "-2 1-3 2- ",
        ),
        ("{{ \"%s-%d\" | format(\"a\", 3) }}", "a-3"),
        (
            "{% set ns = namespace(a=[]) %}{% for i in range(2) %}{% set _ = ns.a.append(i) %}{% endfor %}{{ ns.a }}",
            "[0, 1]",
        ),
        (
            "{% set d = {} %}{{ d.update({'a': 1}) }}{{ d }}",
            "None{'a': 1}",
        ),
        ("  a  {%- if true -%}  b  {%- endif -%}  c\n", "  abc"),
        (
            "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }}",
            "['a', 'b', '', 'c'] ['a', 'b']",
        ),
        (
            "{{ ['B','a','b'] | unique | list }} {{ ['b','A','a'] | sort }}",
            "['B', 'a'] ['A', 'a', 'b']",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(r(src).unwrap(), want, "{src}");
    }
}

#[test]
fn errors() {
    assert_eq!(r("{{ x.y }}").unwrap_err().kind, ErrorKind::Undefined);
    assert_eq!(r("{% if %}").unwrap_err().kind, ErrorKind::Syntax);
    assert_eq!(r("{{ 1 + 'a' }}").unwrap_err().kind, ErrorKind::Type);
    assert_eq!(
        r("{{ x | nosuchfilter }}").unwrap_err().kind,
        ErrorKind::Syntax
    );
    assert_eq!(
        r("{% for i in range(10**9) %}{% endfor %}")
            .unwrap_err()
            .kind,
        ErrorKind::Limit
    );
}

#[test]
fn undeclared() {
    let t = Template::new(
        "{% for i in range(n) %}{{ loop.index }}{{ i }}{% endfor %}{% set y = 1 %}{{ y }}{{ z }}",
    )
    .unwrap();
    let v: Vec<String> = t.undeclared_variables().into_iter().collect();
    assert_eq!(v, ["n", "range", "z"]);
}
