//! Unit tests of the template module: the public API, control flow, functions, limits and the places
//! where we knowingly differ from Prometheus. Outputs checked against Prometheus live in
//! `tests/template.rs`.

use std::cell::Cell;
use std::collections::BTreeMap;

use super::{expand, QuerySample, Template, TemplateData, TemplateError};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn data(value: f64) -> TemplateData {
    TemplateData {
        labels: labels(&[("instance", "web-1:9100"), ("job", "node"), ("a-b", "dash")]),
        external_labels: labels(&[("cluster", "prod")]),
        external_url: "https://alerts.example.com/prometheus".to_string(),
        value,
    }
}

fn sample(pairs: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample { labels: labels(pairs), value }
}

fn query(q: &str) -> Result<Vec<QuerySample>, String> {
    match q {
        "up" => Ok(vec![
            sample(&[("__name__", "up"), ("instance", "web-2:9100"), ("job", "node")], 1.0),
            sample(&[("__name__", "up"), ("instance", "web-1:9100"), ("job", "node")], 0.0),
        ]),
        "node_memory_MemTotal_bytes" => {
            Ok(vec![sample(&[("instance", "web-1:9100")], 16.0 * 1024.0 * 1024.0 * 1024.0)])
        }
        "absent" => Ok(Vec::new()),
        other => Err(format!("unknown query {other:?}")),
    }
}

/// Expands with the default data and value 1.
fn run(text: &str) -> String {
    run_with(text, 1.0)
}

fn run_with(text: &str, value: f64) -> String {
    match expand("test", text, &data(value), &query) {
        Ok(out) => out,
        Err(e) => panic!("{text:?} failed: {e}"),
    }
}

fn fail(text: &str) -> String {
    match expand("test", text, &data(1.0), &query) {
        Ok(out) => panic!("{text:?} should fail, gave {out:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn typical_alert_annotation() {
    let text = "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes. Value: {{ $value | humanizePercentage }}";
    assert_eq!(run_with(text, 0.4567), "web-1:9100 of job node has been down for more than 5 minutes. Value: 45.67%");
}

#[test]
fn first_value_of_a_query() {
    assert_eq!(run("{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}"), "1");
    assert_eq!(
        run("{{ with query \"absent\" }}{{ . | first | value | humanize }}{{ else }}no data{{ end }}"),
        "no data"
    );
    assert_eq!(
        run("{{ with query \"node_memory_MemTotal_bytes\" }}{{ . | first | value | humanize1024 }}B{{ end }}"),
        "16GiB"
    );
}

#[test]
fn data_fields_and_prelude_variables() {
    assert_eq!(
        run("{{ $labels.instance }}|{{ .Labels.instance }}|{{ $value }}|{{ .Value }}"),
        "web-1:9100|web-1:9100|1|1"
    );
    assert_eq!(run("{{ $externalLabels.cluster }}|{{ .ExternalLabels.cluster }}"), "prod|prod");
    assert_eq!(
        run("{{ $externalURL }}|{{ .ExternalURL }}"),
        "https://alerts.example.com/prometheus|https://alerts.example.com/prometheus"
    );
    assert_eq!(run("{{ index $labels \"a-b\" }}|{{ $.Labels.job }}"), "dash|node");
    assert_eq!(run_with("{{ $value }} {{ $value }}", 3.0), "3 3");
    assert_eq!(run_with("{{ $value }}", 1e6), "1e+06");
    assert_eq!(run_with("{{ $value }}", 0.1 + 0.2), "0.30000000000000004");
    assert_eq!(run_with("{{ $value }}", f64::NEG_INFINITY), "-Inf");
}

#[test]
fn missing_labels_are_empty() {
    assert_eq!(
        run("[{{ $labels.nope }}][{{ .Labels.nope }}][{{ index .Labels \"nope\" }}][{{ $externalLabels.nope }}]"),
        "[][][][]"
    );
    assert_eq!(run("{{ if $labels.nope }}set{{ else }}unset{{ end }}"), "unset");
    assert_eq!(run("{{ with $labels.nope }}set{{ else }}unset{{ end }}"), "unset");
    assert_eq!(run("{{ $labels.nope | len }}"), "0");
    // Missing keys of maps of interfaces are nil, which prints as Go's `<no value>`.
    assert_eq!(run("{{ (args 1).arg5 }}"), "<no value>");
    let empty = TemplateData::default();
    assert_eq!(expand("t", "[{{ $labels.x }}{{ $externalURL }}{{ $value }}]", &empty, &query).unwrap(), "[0]");
}

#[test]
fn if_else_chains() {
    let text = "{{ if gt $value 90.0 }}critical{{ else if gt $value 70.0 }}warning{{ else }}ok{{ end }}";
    assert_eq!(run_with(text, 95.0), "critical");
    assert_eq!(run_with(text, 75.0), "warning");
    assert_eq!(run_with(text, 5.0), "ok");
    assert_eq!(run("{{ if and $labels.job (not $labels.nope) }}y{{ end }}"), "y");
    assert_eq!(run("{{ if or $labels.nope $labels.job }}y{{ end }}"), "y");
    assert_eq!(
        run("{{ if 0 }}a{{ else if 0.0 }}b{{ else if \"\" }}c{{ else if (query \"absent\") }}d{{ else }}e{{ end }}"),
        "e"
    );
    assert_eq!(
        run("{{ if 1 }}a{{ end }}{{ if 0.5 }}b{{ end }}{{ if \"x\" }}c{{ end }}{{ if $labels }}d{{ end }}"),
        "abcd"
    );
    // NaN compares false with everything, so Go's gt (not le) is true.
    assert_eq!(
        run_with("{{ gt $value 0.0 }} {{ lt $value 0.0 }} {{ eq $value $value }}", f64::NAN),
        "true false false"
    );
}

#[test]
fn with_and_else_with() {
    assert_eq!(run("{{ with $labels.job }}job={{ . }}{{ end }}"), "job=node");
    assert_eq!(run("{{ with $labels.nope }}a{{ else with $labels.job }}b={{ . }}{{ end }}"), "b=node");
    assert_eq!(run("{{ with $x := $labels.job }}{{ $x }}/{{ . }}{{ end }}"), "node/node");
}

#[test]
fn range_over_lists_maps_and_ints() {
    assert_eq!(
        run("{{ range query \"up\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}"),
        "web-2:9100=1;web-1:9100=0;"
    );
    assert_eq!(
        run("{{ range $i, $s := query \"up\" }}{{ $i }}{{ $s.Labels.instance }} {{ end }}"),
        "0web-2:9100 1web-1:9100 "
    );
    assert_eq!(run("{{ range $s := query \"up\" }}{{ label \"instance\" $s }} {{ end }}"), "web-2:9100 web-1:9100 ");
    assert_eq!(
        run("{{ range sortByLabel \"instance\" (query \"up\") }}{{ .Labels.instance }} {{ end }}"),
        "web-1:9100 web-2:9100 "
    );
    assert_eq!(
        run("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}"),
        "a-b=dash;instance=web-1:9100;job=node;"
    );
    assert_eq!(run("{{ range query \"absent\" }}x{{ else }}none{{ end }}"), "none");
    assert_eq!(run("{{ range (args).nope }}x{{ else }}nil{{ end }}"), "nil");
    assert!(fail("{{ range $labels.nope }}{{ end }}").ends_with("range can't iterate over "));
    assert_eq!(run("{{ range 3 }}{{ . }}{{ end }}|{{ range $i := 2 }}{{ $i }}{{ end }}"), "012|01");
    assert_eq!(run("{{ range $i, $s := query \"up\" }}{{ range $labels }}{{ $i }}{{ end }}{{ end }}"), "000111");
    assert!(fail("{{ range 1.5 }}{{ end }}").ends_with("range can't iterate over 1.5"));
    assert!(fail("{{ range $i, $v := 3 }}{{ end }}").ends_with("can't use 3 to iterate over more than one variable"));
}

#[test]
fn break_and_continue() {
    assert_eq!(run("{{ range $i, $s := query \"up\" }}{{ if $i }}{{ break }}{{ end }}{{ $i }}{{ end }}"), "0");
    assert_eq!(
        run("{{ range $k, $v := $labels }}{{ if eq $k \"instance\" }}{{ continue }}{{ end }}{{ $k }} {{ end }}"),
        "a-b job "
    );
    // A break inside `if`/`with` leaves only the innermost range.
    assert_eq!(run("{{ range 2 }}{{ range 5 }}{{ with . }}{{ break }}{{ end }}x{{ end }}y{{ end }}"), "xyxy");
    assert!(fail("{{ if true }}{{ continue }}{{ end }}").contains("{{continue}} outside {{range}}"));
}

#[test]
fn variables_scope_and_assignment() {
    assert_eq!(run("{{ $n := 0 }}{{ range query \"up\" }}{{ $n = .Value }}{{ end }}{{ $n }}"), "0");
    assert_eq!(run("{{ $s := \"a\" }}{{ if true }}{{ $s := \"b\" }}{{ $s }}{{ end }}{{ $s }}"), "ba");
    assert_eq!(run("{{ $s := \"a\" }}{{ if true }}{{ $s = \"b\" }}{{ end }}{{ $s }}"), "b");
    assert_eq!(run("{{ $x := 1 }}{{ $x := \"again\" }}{{ $x }}"), "again");
    assert_eq!(run("{{ ($y := 5) }} {{ $y }}"), "5 5");
    assert!(fail("{{ if true }}{{ $z := 1 }}{{ end }}{{ $z }}").contains("undefined variable \"$z\""));
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(run("a \n\t {{- \"b\" -}} \n\t c"), "abc");
    assert_eq!(run("a {{- \"b\" }} c"), "ab c");
    assert_eq!(run("a {{ \"b\" -}} c"), "a bc");
    assert_eq!(run("{{-3}} {{ -3 }}"), "-3 -3");
    assert_eq!(run("x{{/* a comment */}}y {{- /* trimmed */ -}} z"), "xyz");
    assert_eq!(run("{{/* multi\nline */}}ok"), "ok");
    assert_eq!(run("line1\n{{- if true }}\nline2\n{{- end }}\nline3"), "line1\nline2\nline3");
    assert_eq!(run("single { braces } and }} alone"), "single { braces } and }} alone");
    assert_eq!(run(""), "");
}

#[test]
fn pipelines_and_parentheses() {
    assert_eq!(run("{{ $labels.job | toUpper | printf \"%s!\" }}"), "NODE!");
    assert_eq!(run("{{ printf \"%s/%s\" (stripPort $labels.instance) ($labels.job | title) }}"), "web-1/Node");
    assert_eq!(run("{{ (index (query \"up\") 1).Labels.instance }}"), "web-1:9100");
    assert_eq!(run("{{ (query \"up\" | first).Value }}"), "1");
    assert_eq!(run("{{ len (query \"up\") | printf \"%d series\" }}"), "2 series");
}

#[test]
fn literals() {
    assert_eq!(
        run("{{ \"dq\\t\\\"\" }}|{{ `raw\\t` }}|{{ 'x' }}|{{ true }}|{{ 1_000 }}|{{ 0x_ff }}|{{ .5 }}|{{ 1e-3 }}"),
        "dq\t\"|raw\\t|120|true|1000|255|0.5|0.001"
    );
    assert_eq!(run("{{ \"\\u00e9\\U0001F600\\101\\x41\" }}"), "é😀AA");
}

#[test]
fn every_prometheus_function() {
    let cases = [
        ("{{ query \"up\" | len }}", "2"),
        ("{{ (query \"up\" | first).Labels.instance }}", "web-2:9100"),
        ("{{ label \"instance\" (query \"up\" | first) }}", "web-2:9100"),
        ("{{ value (query \"up\" | first) }}", "1"),
        ("[{{ strvalue (query \"up\" | first) }}]", "[]"),
        ("{{ range sortByLabel \"instance\" (query \"up\") }}{{ .Value }}{{ end }}", "01"),
        ("{{ humanize 1234567 }} {{ humanize 0.00123 }} {{ humanize \"2e9\" }}", "1.235M 1.23m 2G"),
        ("{{ humanize1024 1048576 }} {{ humanize1024 1536 }}", "1Mi 1.5ki"),
        (
            "{{ humanizeDuration 3661 }}|{{ humanizeDuration 0.5 }}|{{ humanizeDuration 100000 }}",
            "1h 1m 1s|500ms|1d 3h 46m 40s",
        ),
        ("{{ humanizePercentage 0.1234 }} {{ humanizePercentage 0.5 }}", "12.34% 50%"),
        ("{{ humanizeTimestamp 1700000000.5 }}", "2023-11-14 22:13:20.5 +0000 UTC"),
        (
            "{{ toTime 1700000000 }}|{{ (toTime 1700000000).Format \"15:04 Jan 2\" }}",
            "2023-11-14 22:13:20 +0000 UTC|22:13 Nov 14",
        ),
        ("{{ title \"disk full\" }} {{ toUpper \"a\" }} {{ toLower \"B\" }}", "Disk Full A b"),
        ("{{ match \"^web-\\\\d\" $labels.instance }} {{ match \"^db\" $labels.instance }}", "true false"),
        ("{{ reReplaceAll \"^(.*)-(\\\\d+):.*$\" \"$1 #$2\" $labels.instance }}", "web #1"),
        ("{{ safeHtml \"<br>\" }}", "<br>"),
        ("{{ stripPort $labels.instance }} {{ stripPort \"[2001:db8::1]:9100\" }}", "web-1 2001:db8::1"),
        ("{{ stripDomain \"db.example.com:5432\" }} {{ stripDomain \"192.168.0.1:80\" }}", "db:5432 192.168.0.1:80"),
        ("{{ $a := args \"x\" 2 }}{{ $a.arg0 }}{{ $a.arg1 }}", "x2"),
        ("{{ define \"row\" }}<{{ .arg0 }}={{ .arg1 }}>{{ end }}{{ tmpl \"row\" (args \"k\" \"v\") }}", "<k=v>"),
        ("{{ graphLink \"up == 0\" }}", "/graph?g0.expr=up+%3D%3D+0&g0.tab=0"),
        ("{{ tableLink \"up\" }}", "/graph?g0.expr=up&g0.tab=1"),
        ("{{ pathPrefix }}", "/prometheus"),
        ("{{ externalURL }}", "https://alerts.example.com/prometheus"),
        ("{{ parseDuration \"1h5m\" }} {{ parseDuration \"5m\" | humanizeDuration }}", "3900 5m 0s"),
        ("{{ urlQueryEscape \"a b&c=d\" }}", "a+b%26c%3Dd"),
        ("{{ printf \"%.1f%% of %s\" 12.345 \"disk\" }}", "12.3% of disk"),
    ];
    for (text, want) in cases {
        assert_eq!(run(text), want, "{text}");
    }
}

#[test]
fn go_builtins() {
    let cases = [
        ("{{ and 1 \"x\" }} {{ and 0 \"x\" }} {{ or 0 \"\" }} {{ or 0 \"x\" }} {{ not 0 }}", "x 0  x true"),
        ("{{ len \"abc\" }} {{ len $labels }} {{ index $labels \"job\" }} {{ index \"ab\" 0 }}", "3 3 node 97"),
        ("{{ slice \"abcdef\" 2 }} {{ slice \"abcdef\" 1 4 }} {{ len (slice (query \"up\") 0 1) }}", "cdef bcd 1"),
        ("{{ print \"a\" 1 2 \"b\" }}|{{ println 1 \"x\" }}|{{ printf \"%05.1f\" 3.14159 }}", "a1 2b|1 x\n|003.1"),
        ("{{ html \"<&>\" }} {{ js \"'\\\\\" }} {{ urlquery \"a/b c\" }}", "&lt;&amp;&gt; \\'\\\\ a%2Fb+c"),
        (
            "{{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }} {{ lt 1 2 }} {{ le 2.5 2.5 }} {{ gt \"b\" \"a\" }} {{ ge 1 2 }}",
            "true true true true true false",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(run(text), want, "{text}");
    }
    assert!(fail("{{ call 1 }}").ends_with("error calling call: non-function of type int"));
}

#[test]
fn go_typing_rules() {
    // An int literal never compares with a float64 value, as in Prometheus.
    assert!(fail("{{ if gt $value 80 }}{{ end }}").ends_with("error calling gt: incompatible types for comparison"));
    assert_eq!(run_with("{{ if gt $value 80.0 }}high{{ end }}", 99.0), "high");
    assert!(fail("{{ $value | toUpper }}").ends_with("wrong type for value; expected string; got float64"));
    assert!(fail("{{ toUpper 1 }}").ends_with("expected string; found 1"));
    assert!(fail("{{ toUpper nil }}").ends_with("cannot assign nil to string"));
    assert!(fail("{{ toUpper $labels.nope.deeper }}").ends_with("can't evaluate field deeper in type string"));
    assert!(fail("{{ value 1 }}").ends_with("can't handle 1 for arg of type *template.sample"));
    assert_eq!(
        run("{{ printf \"%T %T %T\" (first (query \"up\")) (query \"up\") (toTime 0) }}"),
        "*template.sample template.queryResult *time.Time"
    );
}

#[test]
fn query_is_called_only_when_evaluated() {
    let calls = Cell::new(0);
    let counting = |q: &str| {
        calls.set(calls.get() + 1);
        query(q)
    };
    let t = Template::parse("t", "{{ if false }}{{ query \"up\" }}{{ end }}{{ or 1 (query \"up\") }}").unwrap();
    assert_eq!(t.execute(&data(1.0), &counting).unwrap(), "1");
    assert_eq!(calls.get(), 0);
    let t = Template::parse("t", "{{ range query \"up\" }}{{ end }}{{ len (query \"up\") }}").unwrap();
    assert_eq!(t.execute(&data(1.0), &counting).unwrap(), "2");
    assert_eq!(calls.get(), 2);
}

#[test]
fn query_errors_fail_the_expansion() {
    let err = fail("{{ query \"rate(\" }}");
    assert_eq!(
        err,
        "template: test:1:115: executing \"test\" at <query \"rate(\">: error calling query: unknown query \"rate(\""
    );
}

#[test]
fn parse_once_execute_many_and_share() {
    fn assert_shareable<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_shareable::<Template>();
    let t = Template::parse("__alert_Disk", "{{ $labels.instance }} {{ humanizePercentage $value }}").unwrap();
    let copy = t.clone();
    let outputs: Vec<String> = [0.5, 0.25].iter().map(|v| copy.execute(&data(*v), &query).unwrap()).collect();
    assert_eq!(outputs, ["web-1:9100 50%", "web-1:9100 25%"]);
    assert_eq!(t.name(), "__alert_Disk");
}

#[test]
fn parse_errors_name_template_and_line() {
    let cases = [
        ("{{ humanise $value }}", "template: test:1: function \"humanise\" not defined"),
        ("ok\n\n{{ if }}", "template: test:3: missing value for if"),
        ("{{ range $labels }}", "template: test:1: unexpected EOF"),
        ("{{ else }}", "template: test:1: unexpected {{else}}"),
        ("{{ $x }}", "template: test:1: undefined variable \"$x\""),
        ("{{ .a | 3 }}", "template: test:1: non executable command in pipeline stage 2"),
        ("{{ `raw", "template: test:1: unterminated raw quoted string"),
        ("{{ 'ab' }}", "template: test:1: malformed character constant: 'ab'"),
        ("{{ 1.2.3 }}", "template: test:1: unexpected \".3\" in operand"),
        ("{{ 1.2e }}", "template: test:1: illegal number syntax: \"1.2e\""),
        ("{{ .a.b@ }}", "template: test:1: bad character U+0040 '@'"),
        ("{{ template \"x\" }}{{ define \"x\" }}", "template: test:1: unexpected EOF"),
        ("{{ define 1 }}{{ end }}", "template: test:1: unexpected \"1\" in define clause"),
    ];
    for (text, want) in cases {
        let err = Template::parse("test", text).unwrap_err();
        assert!(matches!(err, TemplateError::Parse { .. }), "{text}: {err:?}");
        assert_eq!(err.to_string(), want, "{text}");
    }
}

#[test]
fn exec_errors_carry_position_and_context() {
    let err = expand("test", "first line\n  {{ humanize \"abc\" }}", &data(1.0), &query).unwrap_err();
    assert_eq!(
        err,
        TemplateError::Exec {
            name: "test".into(),
            line: 2,
            column: 5,
            template: "test".into(),
            context: "humanize \"abc\"".into(),
            message: "error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax".into(),
        }
    );
    let err = fail("{{ define \"inner\" }}{{ .Nope }}{{ end }}{{ template \"inner\" 1 }}");
    assert!(err.ends_with("executing \"inner\" at <.Nope>: can't evaluate field Nope in type int"), "{err}");
}

#[test]
fn named_templates() {
    assert_eq!(run("{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" 1 }}{{ template \"x\" \"a\" }}"), "[1][a]");
    assert_eq!(run("{{ block \"b\" $labels.job }}<{{ . }}>{{ end }}|{{ template \"b\" \"again\" }}"), "<node>|<again>");
    // A defined template sees only its argument; the alert variables are not in scope.
    assert!(Template::parse("t", "{{ define \"x\" }}{{ $labels }}{{ end }}").is_err());
    assert_eq!(run("{{ define \"x\" }}{{ $.job }}{{ end }}{{ template \"x\" $labels }}"), "node");
    assert!(fail("{{ tmpl \"missing\" 1 }}").contains("no template \"missing\" associated with template \"test\""));
}

#[test]
fn limits_turn_into_errors() {
    let err = fail("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}");
    assert!(err.ends_with("exceeded maximum template depth (100)"), "{err}");
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    let err = Template::parse("t", &deep).unwrap_err().to_string();
    assert!(err.contains("nesting exceeds"), "{err}");
    let nested_ifs = "{{ if true }}".repeat(300) + &"{{ end }}".repeat(300);
    assert!(Template::parse("t", &nested_ifs).is_err());
    let ok = format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40));
    assert_eq!(run(&ok), "1");
}

#[test]
fn known_differences_from_prometheus() {
    // Go prints pointer addresses for query results; we print the samples.
    assert_eq!(
        run("{{ query \"up\" }}"),
        "[&{map[__name__:up instance:web-2:9100 job:node] 1} &{map[__name__:up instance:web-1:9100 job:node] 0}]"
    );
    // Hexadecimal float formatting is not implemented: %x of a float prints like %g.
    assert_eq!(run("{{ printf \"%x\" 1.5 }}"), "1.5");
}
