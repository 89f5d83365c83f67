//! Configuration: Alertmanager's schema parses unchanged; invalid files fail with Alertmanager's
//! messages (cases in testdata/invalid/*.yml, each starting with `# error: <expected text>`).

use vitals_model::Labels;
use vitals_notify::NotifyConfig;

#[test]
fn invalid_configs_fail_with_their_message() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/invalid");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let want = text.lines().next().unwrap().strip_prefix("# error: ").expect("first line: # error: ...");
        let err = NotifyConfig::from_yaml(&text).expect_err(&path.display().to_string()).to_string();
        assert!(err.contains(want), "{}: got {err:?}, want {want:?}", path.display());
        n += 1;
    }
    assert!(n >= 15);
}

#[test]
fn alertmanager_yml_sections_parse_unchanged() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/valid_alertmanager.yml");
    let cfg = NotifyConfig::from_yaml(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cfg.receivers[0].webhook_configs[0].send_resolved, "webhook send_resolved defaults to true");
    assert!(!cfg.receivers[2].slack_configs.is_empty());
    assert!(!cfg.receivers[1].email_configs[0].send_resolved);
    let routes = cfg.compile_routes().unwrap();
    let root = &routes.nodes[0];
    assert_eq!(root.key, "{}");
    assert_eq!(root.repeat_interval, std::time::Duration::from_secs(3 * 3600));

    let recv = |pairs: &[(&str, &str)]| -> Vec<String> {
        let l = Labels::from_pairs(pairs.iter().copied());
        routes.match_labels(&l).into_iter().map(|i| routes.nodes[i].receiver.clone()).collect()
    };
    // Nested: the child wins over its parent.
    assert_eq!(recv(&[("service", "foo1"), ("severity", "critical")]), ["team-X-pager"]);
    assert_eq!(recv(&[("service", "foo1"), ("severity", "warning")]), ["team-X-mails"]);
    // `continue: true` goes on to the next sibling (the catch-all).
    assert_eq!(recv(&[("service", "files"), ("severity", "page")]), ["team-Y-pager", "everything"]);
    // Continue inside a subtree: a matching child replaces its parent, which does not continue.
    assert_eq!(recv(&[("service", "database"), ("owner", "team-X")]), ["team-X-pager"]);
    assert_eq!(recv(&[("service", "database"), ("owner", "nobody")]), ["team-DB-pager"]);
    assert_eq!(recv(&[("service", "other")]), ["everything"]);

    let child = routes.nodes.iter().find(|r| r.receiver == "team-X-pager").unwrap();
    assert_eq!(child.key, "{}/{service=~\"foo1|foo2|baz\"}/{severity=\"critical\"}");
    assert_eq!(child.group_wait, std::time::Duration::from_secs(30), "inherited");
    let everything = routes.nodes.iter().find(|r| r.receiver == "everything").unwrap();
    assert_eq!(everything.group_by, vitals_notify::config::GroupBy::All);
}

#[test]
fn defaults_when_nothing_is_set() {
    let cfg = NotifyConfig::from_yaml("route: {receiver: r}\nreceivers: [{name: r}]\n").unwrap();
    let routes = cfg.compile_routes().unwrap();
    let r = &routes.nodes[0];
    assert_eq!(r.group_wait.as_secs(), 30);
    assert_eq!(r.group_interval.as_secs(), 300);
    assert_eq!(r.repeat_interval.as_secs(), 4 * 3600);
}

#[test]
fn matcher_syntax() {
    use vitals_model::MatchOp;
    use vitals_notify::config::parse_matcher;
    let m = parse_matcher(r#"a="b\"c""#).unwrap();
    assert_eq!((m.name.as_str(), m.op, m.value.as_str()), ("a", MatchOp::Equal, "b\"c"));
    let m = parse_matcher("c=~\"x|y\"").unwrap();
    assert!(m.matches("y") && !m.matches("xy"));
    let m = parse_matcher("d != e").unwrap();
    assert_eq!((m.op, m.value.as_str()), (MatchOp::NotEqual, "e"));
    let m = parse_matcher("{f!~g.*}").unwrap();
    assert_eq!(m.op, MatchOp::NotRegex);
    assert!(parse_matcher("=x").is_err());
}

#[test]
fn fingerprints_equal_alertmanagers() {
    // prometheus/common model: LabelsToSignature test vector.
    let a = vitals_notify::Alert {
        labels: Labels::from_pairs([("name", "garland, briggs"), ("fear", "love is not enough")]),
        annotations: Labels::empty(),
        starts_at: std::time::SystemTime::now(),
        ends_at: None,
        generator_url: String::new(),
    };
    assert_eq!(a.fingerprint(), 5799056148416392346);
}
