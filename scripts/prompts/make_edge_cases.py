#!/usr/bin/env python3
"""Writes t0-prompts/tests/fixtures/templates/t0_edge_cases/templates.yaml: hand-written
templates that exercise Jinja2/Python semantics P3 relies on (reprs, float formatting,
filters, methods incl. mutating ones, scoping, whitespace control, errors). Rendered by
promptsource's own code like every other fixture (scripts/prompts_golden.py), with the
records REALISTIC["t0_edge_cases"] of scripts/prompts/examples.py.

Requirements (pin): pyyaml==6.0.1
"""
import os
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "t0-prompts", "tests", "fixtures", "templates", "t0_edge_cases", "templates.yaml")

CASES = [
 ("reprs", "{{ [1, 2.5, 'a', None, True, (1,), {'k': \"it's\"}] }} ||| {{ {'a': [1, {'b': none}]} }}", None),
 ("floats", "{{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1/3 }} {{ -0.0 }} {{ 2**0.5 }} {{ 10/4 }} {{ 123456789.123456789 }}", None),
 ("int arithmetic", "{{ 7 // -2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 62 }} {{ 5 / 1 }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 1 + True }}", None),
 ("round", "{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 5 | round }} {{ 1234.5 | round(-2) }} {{ 2.5 | round(0, 'floor') }} {{ 2.1 | round(0, 'ceil') }} {{ -2.5 | round }}", None),
 ("int filter", "{{ '42' | int }} {{ ' 7 ' | int }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 4.7 | int }} {{ '1_000' | int }} {{ 'ff' | int(0, 16) }} {{ true | int }}", None),
 ("float filter", "{{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }} {{ '1e3' | float }} {{ '%.2f' | format(2.345) }} {{ '%5.1f|%-4d|%03d' | format(3.14159, 7, 5) }}", None),
 ("printf", "{{ '%s and %s' | format('a', 1) }} {{ '%d%%' | format(50) }} {{ '%r' | format('x') }} {{ '%e' | format(12345.678) }} {{ '%g %g' | format(0.0001, 1234567) }} {{ '%x' | format(255) }}", None),
 ("truncate", "{{ 'a b c d e f g h' | truncate(9) }}|{{ 'abcdefghijklmnop' | truncate(10, True) }}|{{ 'short' | truncate(3) }}|{{ 'one two three four' | truncate(10, False, '…', 0) }}", None),
 ("string methods", "{{ ' a  b '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ 'xxhixx'.strip('x') }} {{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('lo', 'x')) }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.rfind('c') }} {{ 'abcabc'.count('b') }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'AB'.isupper() }}", None),
 ("list methods", "{% set l = [3, 1, 2] %}{{ l.append(4) }}{{ l }} {{ l.pop() }} {{ l.pop(0) }} {{ l }} {{ l.index(2) }} {{ l.count(1) }}{% set _ = l.extend([5, 5]) %} {{ l }}{% set _ = l.insert(0, 9) %} {{ l }}{% set _ = l.remove(5) %} {{ l }}{% set _ = l.reverse() %} {{ l }}{% set _ = l.sort() %} {{ l }}", None),
 ("dict methods", "{% set d = {'b': 1, 'a': 2} %}{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}{{ d.update({'c': 3}) }} {{ d }} {{ d.get('z', 'dflt') }} {{ d.get('a') }} {{ d.pop('b') }} {{ d }} {{ d['a'] }} {{ d.a }} {{ d.missing }}|", None),
 ("sort unique", "{{ ['b', 'A', 'a', 'C'] | sort }} {{ ['b', 'A', 'a', 'C'] | sort(reverse=True) }} {{ ['b', 'A', 'a', 'C'] | sort(case_sensitive=True) }} {{ ['B', 'a', 'b', 'A'] | unique | list }} {{ ['B', 'a', 'b', 'A'] | unique(True) | list }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ [] | min }}|{{ ['b', 'A'] | min }}", None),
 ("sort attribute", "{% set xs = [{'n': 'b', 'k': 2}, {'n': 'a', 'k': 1}, {'n': 'c', 'k': 1}] %}{{ xs | sort(attribute='k') | map(attribute='n') | join(',') }} {{ xs | sort(attribute='k,n') | map(attribute='n') | join(',') }} {{ xs | sort(attribute='k', reverse=True) | map(attribute='n') | join(',') }} {{ xs | selectattr('k', 'equalto', 1) | map(attribute='n') | list }} {{ xs | rejectattr('k', 'equalto', 1) | list }} {{ xs | map(attribute='zz', default='d') | list }} {{ xs | sum(attribute='k') }}", None),
 ("select reject", "{{ [0, 1, 2, '', 'a', none] | select | list }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ ['a', '', 'b'] | reject('equalto', '') | list }} {{ [1, 5, 10] | select('>', 4) | list }} {{ ['a', 'B'] | map('upper') | list }} {{ [' a ', 'b '] | map('trim') | list }} {{ ['x.', 'y'] | map('trim', '.') | list }}", None),
 ("first last length", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | last }} {{ [] | first }}|{{ 'abc' | length }} {{ {'a': 1} | length }} {{ [1, 2] | count }} {{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} {{ 'abc' | reverse }} {{ [1, 2] | reverse | list }}", None),
 ("default", "{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ 0 | default(5, true) }} {{ none | default('d') }} {{ missing | d('x') }}", None),
 ("tests", "{{ x is defined }} {{ missing is undefined }} {{ none is none }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is string }} {{ 1 is number }} {{ [1] is sequence }} {{ {} is mapping }} {{ 1 is in [1, 2] }} {{ 'a' is lower }} {{ 3 is gt 2 }} {{ 1 is not eq 1 }} {{ x is sameas x }}", None),
 ("loop vars", "{% for a in ['x', 'y', 'z'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}{% for a in [] %}x{% else %}empty{% endfor %}{% for i in range(4) if i is odd %}{{ loop.index }}/{{ loop.length }}:{{ i }} {% endfor %}", None),
 ("nested loops scope", "{% set x = 'outer' %}{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{{ x }}{% set x = j %}{{ x }} {% endfor %}{{ loop.index }}{{ x }}|{% endfor %}{{ x }}", None),
 ("namespace", "{% set ns = namespace(count=0, items=[]) %}{% for w in words %}{% set ns.count = ns.count + 1 %}{% set _ = ns.items.append(w | upper) %}{% endfor %}{{ ns.count }} {{ ns.items }} {{ ns }}", None),
 ("zip range", "{% for a, b in zip(words, range(10)) %}{{ a }}={{ b }} {% endfor %}{{ range(2, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ zip([1, 2], 'ab') | list }}", None),
 ("tuple unpack set", "{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set c = 1, 2 %} {{ c }} {% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}{{ v }}{% endfor %}", None),
 ("slicing", "{{ words[1:] }} {{ words[:-1] }} {{ words[::-1] }} {{ words[::2] }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[-2:] }} {{ 'abcdef'[::-2] }} {{ words[10:] }} {{ words[-1] }} {{ words[-10] }}|", None),
 ("whitespace control", "a  {%- if true %}  b  {% endif -%}  c\n  {#- comment -#}  d {{- ' e ' -}} f\n{% if false %}x{% endif %}\n\ng  ", None),
 ("block set", "{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}] {{ x | length }}", None),
 ("conditional expr", "{{ 'yes' if x else 'no' }} {{ 'yes' if missing else 'no' }} {{ 'a' if false }}|{{ x and 'both' }} {{ missing or 'fallback' }} {{ 0 or '' or 'last' }} {{ not x }}", None),
 ("concat tilde", "{{ 'a' ~ 1 ~ none ~ missing ~ [1] ~ 2.0 }}", None),
 ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ (1, 2) == (1, 2) }} {{ 'ab' in 'cabd' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1, 2] }} {{ none == none }} {{ true == 1 }}", None),
 ("choice random", "{{ ['a', 'b', 'c', 'd'] | choice }}{{ words | choice }}{{ 'xyz' | choice }}{{ range(100) | random }}{{ words | random }}", "{{ ['p', 'q', 'r'] | choice }} ||| {{ words | choice }}"),
 ("choice folding", "{{ words | random }}{{ ['a', 'b', 'c'] | choice }}{{ (['d', 'e', 'f'] | choice) ~ x }}{% set y = ['g', 'h', 'i'] | choice %}{{ y }}{{ ['j', 'k'] | choice if x else 'n' }}{{ [['l', 'm'] | choice, words | choice] }}", "{{ ['p', 'q', 'r', 's'] | choice }} ||| {{ (['t', 'u'] | choice) ~ label }}"),
 ("most frequent", "{{ ['a', 'b', 'a', 'c', 'b'] | most_frequent }} {{ [1, 1, 2] | most_frequent }} {{ [] | most_frequent }}", None),
 ("answer choices vars", "{{ answer_choices }} ||| {{ answer_choices[label] }} {{ answer_choices | length }}", "{% for w in words %}{{ w }}{% if not loop.last %} ||| {% endif %}{% endfor %}"),
 ("unicode", "{{ text | upper }} {{ text | length }} {{ text[1] }} {{ text.split() }} {{ [text] }} {{ 'ß' | upper }} {{ 'İ' | lower | length }}", None),
 ("escapes in literals", "{{ 'tab\\there' }} {{ \"quote\\\"s\" }} {{ 'nl\\nx' | length }} {{ '\\x41\\u00e9' }} {{ ['a\\nb', 'c\\\\d', \"e'f\"] }}", None),
 ("undefined attr error", "{{ missing.attribute }}", None),
 ("type error", "{{ words + 1 }}", None),
 ("value error index", "{{ words.index('nope') }}", None),
 ("syntax error", "{% for x in %}", None),
 ("unknown filter", "{{ x | frobnicate }}", None),
 ("hidden whitespace", "  \n  spaced input  \t\n ||| \n  target\n\n", None),
 ("mutation shared", "{{ words.append('added') or '' }}{{ words | length }}", "{{ words.append('from_choices') or '' }}{{ words | join(' ||| ') }}"),
]


class T(yaml.YAMLObject):
    yaml_tag = "!Template"


class M(yaml.YAMLObject):
    yaml_tag = "!TemplateMetadata"


def main():
    out = {"dataset": "t0_edge_cases", "templates": {}}
    for i, (name, jinja, ac) in enumerate(CASES):
        tid = str(uuid.UUID(int=i + 1))
        t = T()
        t.answer_choices, t.id, t.jinja = ac, tid, jinja
        m = M()
        m.choices_in_prompt, m.metrics, m.original_task = False, ["Other"], False
        t.metadata, t.name, t.reference = m, name, "t0-prompts edge case"
        out["templates"][tid] = t
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        yaml.dump(out, f, width=100)
    print(f"{len(CASES)} templates -> {OUT}")


if __name__ == "__main__":
    main()
