//! SLO burn-rate alerts in a fast-forwarded rule unit test: the generated rules are run by the
//! promtool-format test runner over two hours of synthetic traffic with an outage.

use vitals_rules::slo::{rules_yaml, SloConfig};

#[test]
fn burn_rate_alerts_fire_on_an_outage() {
    let slo: SloConfig = serde_norway::from_str(
        r#"
name: checkout
objective: 99.9
window: 30d
sli:
  events:
    good: 'sum(rate(http_requests_total{code!~"5.."}[$window]))'
    total: 'sum(rate(http_requests_total[$window]))'
labels: {team: shop}
"#,
    )
    .unwrap();
    slo.validate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slo_rules.yml"), rules_yaml(&[slo])).unwrap();
    // 10 requests/s all good for an hour, then half of them fail.
    let test = r#"
rule_files: [slo_rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_requests_total{code="200"}'
        values: '0+600x60 36000+300x60'
      - series: 'http_requests_total{code="500"}'
        values: '0x60 300+300x59'
    alert_rule_test:
      - eval_time: 55m
        alertname: SLOBurnRatePage
        exp_alerts: []
      - eval_time: 70m
        alertname: SLOBurnRatePage
        exp_alerts:
          - exp_labels: {slo: checkout, team: shop, severity: page, long_window: 1h, short_window: 5m}
            exp_annotations:
              summary: SLO checkout burns its error budget 14.4x too fast over 1h and 5m
              description: >-
                The error ratio of SLO checkout (99.9% over 30d) is 8.417% over the last 1h, above 14.4 times the
                budget of 0.1000%. At this rate the budget of the window is gone in 2.1 days.
    promql_expr_test:
      - expr: slo:sli_error:ratio_rate5m
        eval_time: 90m
        exp_samples:
          - labels: 'slo:sli_error:ratio_rate5m{slo="checkout", team="shop"}'
            value: 0.5
"#;
    let path = dir.path().join("slo_test.yml");
    std::fs::write(&path, test).unwrap();
    // promtool 2.42 runs the same test to the same verdicts except the value in the description
    // (8.403%): its windows include the sample on the window's start, Prometheus 3's do not.
    let (report, ok) = vitals_rules::unittest::run_file(&path);
    assert!(ok, "{report}");
}
