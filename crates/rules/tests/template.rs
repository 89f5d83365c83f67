//! Alert template conformance: cases run through the public API, with outputs taken from Prometheus.
//!
//! Each case was checked against Prometheus 2.42 (`promtool test rules` expands annotations; the
//! cases are one annotation per alert over the data below) unless it says `oracle: no` (features
//! newer than 2.42, or where we deliberately differ). Format, one block per case, blank-line separated:
//!
//! ```text
//! tmpl: the template (⏎ stands for a newline)
//! value: the alert value (default 1)
//! want: the expected output (⏎ for newline)     or
//! error: the exact error, NAME for the template name     or
//! error~: a part of the error
//! oracle: no
//! ```
//!
//! Data: labels `instance="host.example.com:9090", job="node"`; external labels `region="eu"`;
//! external URL `http://prom.example.com:9090/prom` (promtool 2.42 cannot set these, so cases using
//! them are not oracle-checked); `query` knows `up` (a:9090 = 1, b:9090 = 0, in no set order in
//! Prometheus), `sort(up)` and `sort_desc(up)`, `nothing` (empty) and fails
//! on anything else.

use std::collections::BTreeMap;

use vitals_rules::template::{expand, QuerySample, Template, TemplateData, TemplateError};

const CASES: &str = r##"
tmpl: {{ $value }}
value: 0.5
want: 0.5

tmpl: {{ .Value }}
value: 1000000
want: 1e+06

tmpl: {{ $value }}
value: 1234567
want: 1.234567e+06

tmpl: {{ $value }} {{ .Value }}
value: 100
want: 100 100

tmpl: {{ $value }}
value: NaN
want: NaN

tmpl: {{ $value }}
value: +Inf
want: +Inf

tmpl: {{ $value }}
value: 0.00001
want: 1e-05

tmpl: {{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes. Value: {{ $value | humanizePercentage }}
value: 0.1234
want: host.example.com:9090 of job node has been down for more than 5 minutes. Value: 12.34%

tmpl: [{{ $labels.missing }}] [{{ .Labels.missing }}] [{{ index $labels "missing" }}]
want: [] [] []

tmpl: {{ .Labels.instance }} {{ index $labels "job" }} {{ index .Labels "job" }}
want: host.example.com:9090 node node

tmpl: {{ $externalLabels.region }} {{ $externalURL }} {{ .ExternalLabels.region }} {{ .ExternalURL }}
want: eu http://prom.example.com:9090/prom eu http://prom.example.com:9090/prom
oracle: no

tmpl: {{ $labels }} {{ len $labels }}
want: map[instance:host.example.com:9090 job:node] 2

tmpl: {{ . }}
value: 2.5
want: {map[instance:host.example.com:9090 job:node] map[region:eu] http://prom.example.com:9090/prom 2.5}
oracle: no

tmpl: {{ humanize 1234567 }} {{ humanize 0.00123 }} {{ humanize 0 }} {{ humanize -1234.5 }} {{ humanize 999.99 }}
want: 1.235M 1.23m 0 -1.234k 1000

tmpl: {{ humanize "1234" }} {{ humanize 1e30 }} {{ humanize 1e-30 }} {{ humanize 1000 }}
want: 1.234k 1e+06Y 1e-06y 1k

tmpl: {{ $value | humanize }}
value: 0.000000001
want: 1n

tmpl: {{ humanize "x" }}
error: template: NAME:1:115: executing "NAME" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax

tmpl: {{ humanize1024 1048576 }} {{ humanize1024 1023 }} {{ humanize1024 0.5 }} {{ humanize1024 1125899906842624 }} {{ humanize1024 -2048 }}
want: 1Mi 1023 0.5 1Pi -2ki

tmpl: {{ $value | humanize1024 }}
value: 1536
want: 1.5ki

tmpl: {{ humanizeDuration 3661 }}|{{ humanizeDuration 0.5 }}|{{ humanizeDuration 90061 }}|{{ humanizeDuration 59.5 }}
want: 1h 1m 1s|500ms|1d 1h 1m 1s|59.5s

tmpl: {{ humanizeDuration -3600 }}|{{ humanizeDuration 0 }}|{{ humanizeDuration 0.0000012 }}|{{ humanizeDuration "60" }}|{{ humanizeDuration 1.23456 }}
want: -1h 0m 0s|0s|1.2us|1m 0s|1.235s

tmpl: {{ humanizePercentage 0.1234 }} {{ humanizePercentage 1 }} {{ humanizePercentage 0.123456 }} {{ humanizePercentage "0.5" }}
want: 12.34% 100% 12.35% 50%

tmpl: {{ humanizeTimestamp 1435065584.128 }}|{{ humanizeTimestamp 0 }}|{{ humanizeTimestamp -1.5 }}
want: 2015-06-23 13:19:44.128 +0000 UTC|1970-01-01 00:00:00 +0000 UTC|1969-12-31 23:59:58.5 +0000 UTC

tmpl: {{ $value | humanizeTimestamp }}
value: NaN
want: NaN

tmpl: {{ humanizeTimestamp 1700000000.25 }}|{{ $value | humanizeTimestamp }}
value: 1700000000.001
want: 2023-11-14 22:13:20.249 +0000 UTC|2023-11-14 22:13:20 +0000 UTC

tmpl: {{ humanizeTimestamp 1e20 }}
error: template: NAME:1:115: executing "NAME" at <humanizeTimestamp 1e20>: error calling humanizeTimestamp: 1e+20 cannot be represented as a nanoseconds timestamp since it overflows int64

tmpl: {{ toTime 1435065584.128 }}
want: 2015-06-23 13:19:44.128 +0000 UTC

tmpl: {{ (toTime 1435065584).Format "2006-01-02 15:04 Mon" }} {{ (toTime 1435065584).Unix }} {{ (1435065584 | toTime).Year }}
want: 2015-06-23 13:19 Tue 1435065584 2015

tmpl: {{ toTime "x" }}
error: template: NAME:1:115: executing "NAME" at <toTime "x">: error calling toTime: strconv.ParseFloat: parsing "x": invalid syntax

tmpl: {{ title "hello world" }}|{{ title "o'neil foo.bar foo_bar 123abc" }}|{{ toUpper "abc" }}|{{ toLower "ABC" }}|{{ toUpper "straße" }}
want: Hello World|O'Neil Foo.Bar Foo_bar 123abc|ABC|abc|STRAßE

tmpl: {{ match "^host" $labels.instance }} {{ match "^x" "y" }} {{ match "\\d" "٣" }} {{ match "(?i)NODE" .Labels.job }}
want: true false false true

tmpl: {{ reReplaceAll "(.*):(\\d+)" "$1 port $2" $labels.instance }}|{{ reReplaceAll "\\bfoo\\b" "X" "foo food" }}|{{ reReplaceAll "\\d+" "#" "a1b22c" }}|{{ reReplaceAll "(a)" "$1x${1}y$$" "a" }}
want: host.example.com port 9090|X food|a#b#c|ay$

tmpl: {{ match "[" "x" }}
error: template: NAME:1:115: executing "NAME" at <match "[" "x">: error calling match: error parsing regexp: missing closing ]: `[`

tmpl: {{ reReplaceAll "(" "x" "y" }}
error: template: NAME:1:115: executing "NAME" at <reReplaceAll "(" "x" "y">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`

tmpl: {{ safeHtml "<b>" }} {{ html "<a href='x'>" }} {{ js "it's <b>" }} {{ urlquery "a b&c" }}
want: <b> &lt;a href=&#39;x&#39;&gt; it\'s \u003Cb\u003E a+b%26c

tmpl: {{ stripPort $labels.instance }} {{ stripPort "[::1]:80" }} {{ stripPort "nohost" }} {{ stripPort "a:b:c" }}
want: host.example.com ::1 nohost a:b:c

tmpl: {{ stripDomain $labels.instance }} {{ stripDomain "10.1.2.3:80" }} {{ stripDomain "foo.bar" }} {{ stripDomain "[::1]:80" }}
want: host:9090 10.1.2.3:80 foo [::1]:80

tmpl: {{ graphLink "up == 0" }} {{ tableLink "rate(x[5m])" }}
want: /graph?g0.expr=up+%3D%3D+0&g0.tab=0 /graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=1

tmpl: {{ pathPrefix }} {{ externalURL }}
want: /prom http://prom.example.com:9090/prom
oracle: no

tmpl: {{ parseDuration "1h30m" }} {{ parseDuration "1m30s" | humanizeDuration }} {{ parseDuration "1d" }} {{ parseDuration "100ms" }}
want: 5400 1m 30s 86400 0.1

tmpl: {{ parseDuration "1m1h" }}
error: template: NAME:1:115: executing "NAME" at <parseDuration "1m1h">: error calling parseDuration: not a valid duration string: "1m1h"

tmpl: {{ $a := args 1 "x" }}{{ $a.arg0 }} {{ $a.arg1 }} [{{ $a.arg2 }}] {{ len $a }}
want: 1 x [<no value>] 2

tmpl: {{ with query "sort_desc(up)" }}{{ . | first | value | humanize }}{{ end }}
want: 1

tmpl: {{ range query "sort_desc(up)" }}{{ .Labels.instance }}={{ .Value }};{{ end }}
want: a:9090=1;b:9090=0;

tmpl: {{ range $i, $s := query "sort(up)" }}{{ $i }}:{{ label "instance" $s }}:{{ value $s }};{{ end }}
want: 0:b:9090:0;1:a:9090:1;

tmpl: {{ with query "nothing" }}yes{{ else }}none{{ end }} {{ range query "nothing" }}x{{ else }}empty{{ end }}
want: none empty

tmpl: {{ query "nothing" | first }}
error: template: NAME:1:133: executing "NAME" at <first>: error calling first: first() called on vector with no elements

tmpl: {{ range sortByLabel "instance" (query "sort(up)") }}{{ .Labels.instance }} {{ end }}|{{ range query "sort(up)" }}{{ .Labels.instance }} {{ end }}|
want: a:9090 b:9090 |b:9090 a:9090 |

tmpl: {{ len (query "up") }} {{ (index (query "sort(up)") 1).Value }} {{ with query "up" }}{{ (first .).Labels.job }}{{ end }} [{{ strvalue (first (query "up")) }}]
want: 2 1 node []

tmpl: {{ printf "%s" (query "sort(up)" | first).Labels }}|{{ first (query "sort_desc(up)") }}
want: map[__name__:up instance:b:9090 job:node]|{map[__name__:up instance:a:9090 job:node] 1}

tmpl: {{ query "bad(" }}
error~: error calling query:

tmpl: {{ printf "%.2f" $value }} {{ $value | printf "%.1f%%" }} {{ printf "%.0f" 2.5 }}
value: 3.14159
want: 3.14 3.1% 2

tmpl: {{ printf "%d" 42 }}|{{ printf "%5.1f|%-5s|%05d" 3.14159 "ab" 42 }}|{{ printf "%6.2f|%-8v|%+d" 3.14159 "x" 5 }}
want: 42|  3.1|ab   |00042|  3.14|x       |+5

tmpl: {{ printf "%s" $value }} {{ printf "%d" $value }} {{ printf "%d %d" 1 }} {{ printf "%s" }} {{ printf "%d" 1 "x" }}
want: %!s(float64=1) %!d(float64=1) 1 %!d(MISSING) %!s(MISSING) 1%!(EXTRA string=x)

tmpl: {{ printf "%v %g %e %G" 1000000.0 0.000001 123456.789 1e-7 }}
want: 1e+06 1e-06 1.234568e+05 1E-07

tmpl: {{ printf "%q %x %X %% %c %o %b" "a\"b" "hi" 255 65 8 5 }}
want: "a\"b" 6869 FF % A 10 101

tmpl: {{ printf "%05s|%.1s|%5.2s|%-4d|" "ab" "xyz" "xyz" 7 }}
want: 000ab|x|   xy|7   |

tmpl: {{ printf "%T %T %T %T %T" $value 1 "s" $labels true }}
want: float64 int string map[string]string bool

tmpl: {{ printf "%v|%v|%s" nil $labels.missing $labels }}
want: <nil>||map[instance:host.example.com:9090 job:node]

tmpl: {{ print 1 2 "a" "b" 3 }}|{{ print nil }}|{{ println "a" 1 }}|
want: 1 2ab3|<nil>|a 1⏎|

tmpl: {{ "a" | printf "%s-%s" "b" }} {{ 1.5 }} {{ 2.0 }} {{ 1e6 }} {{ 'a' }} {{ 0x10 }} {{ 1e3 }} {{ -5 }} {{ 1_000 }}
want: b-a 1.5 2 1e+06 97 16 1000 -5 1000

tmpl: {{ "raw" }} {{ `back\tquote` }} {{ "tab\tx" }} {{ "\u00e9\x41" }}
want: raw back\tquote tab	x éA

tmpl: {{ if gt $value 0.5 }}high{{ else if gt $value 0.1 }}mid{{ else }}low{{ end }}
value: 0.3
want: mid

tmpl: {{ if gt $value 0.5 }}high{{ else if gt $value 0.1 }}mid{{ else }}low{{ end }}
value: 0.05
want: low

tmpl: {{ if gt $value 80 }}x{{ end }}
error: template: NAME:1:118: executing "NAME" at <gt $value 80>: error calling gt: incompatible types for comparison

tmpl: {{ eq $value 1 }}
error: template: NAME:1:115: executing "NAME" at <eq $value 1>: error calling eq: incompatible types for comparison

tmpl: {{ if eq $labels.job "node" }}yes{{ end }} {{ if and (eq $labels.job "node") (ne $labels.instance "") }}ok{{ end }} {{ if eq .Value 1.0 }}one{{ end }}
want: yes ok one

tmpl: {{ or "" "default" }} {{ and 1 0 }} {{ not "" }} {{ or 0 "" }} {{ and "x" "y" }} {{ $labels.job | or "" }}
want: default 0 true  y node

tmpl: {{ eq 1 1 2 }} {{ eq "a" "b" "a" }} {{ lt 1.5 2.5 }} {{ ge "b" "a" }} {{ le 2 2 }} {{ ne "a" "a" }} {{ gt $value 0.0 }}
want: true true true true true false true

tmpl: {{ lt true false }}
error: template: NAME:1:115: executing "NAME" at <lt true false>: error calling lt: invalid type for comparison

tmpl: {{ if not $labels.missing }}missing{{ end }} {{ with $labels.job }}job={{ . }}{{ end }} {{ with $labels.missing }}x{{ else }}no{{ end }}
want: missing job=node no

tmpl: {{ with $x := $labels.job }}{{ $x }}{{ end }} {{ with $labels.missing }}a{{ else with $labels.job }}b={{ . }}{{ end }}
want: node b=node
oracle: no

tmpl: {{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }} {{ range $labels }}{{ . }};{{ end }} {{ range $v := $labels }}{{ $v }} {{ end }}|
want: instance=host.example.com:9090,job=node, host.example.com:9090;node; host.example.com:9090 node |

tmpl: {{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }} {{ $y := "a" }}{{ with "b" }}{{ $y := "c" }}{{ end }}{{ $y }}
want: 2 a

tmpl: {{ range $i, $e := query "sort(up)" }}{{ if $i }},{{ end }}{{ $e.Labels.instance }}{{ end }}
want: b:9090,a:9090

tmpl: {{ range $i, $e := query "up" }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $i }}{{ end }}|{{ range $i, $e := query "up" }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $i }}{{ end }}
want: 0|1

tmpl: {{ range 3 }}{{ . }}{{ end }}
want: 012
oracle: no

tmpl: a  {{- " b " -}}  c|x{{/* comment */}}y|x {{- /* c */ -}} y|{{- if true -}}  spaced  {{- end -}}|
want: a b c|xy|xy|spaced|

tmpl: a⏎{{- if true }}⏎b⏎{{- end }}⏎c
want: a⏎b⏎c

tmpl: {{ define "t" }}[{{ . }}]{{ end }}{{ template "t" $labels.job }}{{ template "t" }}{{ block "b" $value }}<{{ . }}>{{ end }}
want: [node][<no value>]<1>

tmpl: {{ template "nope" }}
error: template: NAME:1:124: executing "NAME" at <{{template "nope"}}>: template "nope" not defined

tmpl: {{ define "t" }}{{ humanize . }}{{ end }}{{ template "t" "x" }}
error: template: NAME:1:131: executing "t" at <humanize .>: error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax

tmpl: {{ len "héllo" }} {{ index "abc" 1 }} {{ slice "abcdef" 1 3 }} {{ slice "abc" 1 }} {{ len (slice (query "up") 1) }}
want: 6 98 bc bc 1

tmpl: {{ index (query "up") 5 }}
error: template: NAME:1:115: executing "NAME" at <index (query "up") 5>: error calling index: index out of range: 5

tmpl: {{ .Labels.instance.foo }}
error: template: NAME:1:122: executing "NAME" at <.Labels.instance.foo>: can't evaluate field foo in type string

tmpl: {{ .Nope }}
error: template: NAME:1:115: executing "NAME" at <.Nope>: can't evaluate field Nope in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }
oracle: no

tmpl: {{ humanise 1 }}
error: template: NAME:1: function "humanise" not defined

tmpl: {{ $undefined }}
error: template: NAME:1: undefined variable "$undefined"

tmpl: {{ if true }}
error: template: NAME:1: unexpected EOF

tmpl: a⏎{{ end }}
error: template: NAME:2: unexpected {{end}}

tmpl: {{ 1 | 2 }}
error: template: NAME:1: non executable command in pipeline stage 2

tmpl: {{ "unterminated }}
error: template: NAME:1: unterminated quoted string

tmpl: {{ title 1 }}
error: template: NAME:1:121: executing "NAME" at <1>: expected string; found 1

tmpl: {{ $value | title }}
error: template: NAME:1:124: executing "NAME" at <title>: wrong type for value; expected string; got float64

tmpl: {{ nil }}
error: template: NAME:1:115: executing "NAME" at <nil>: nil is not a command

tmpl: {{ humanize }}
error: template: NAME:1:115: executing "NAME" at <humanize>: wrong number of args for humanize: want 1 got 0

tmpl: ok⏎ {{ humanize "x" }}
error: template: NAME:2:4: executing "NAME" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax

tmpl: {{ printf "%[2]d %[1]d" 1 2 }}|{{ printf "%-5d|%5s|%.3d" 42 "é" 7 }}|{{ printf "%+.2e" -1234.5678 }}|{{ printf "%[3]s" "a" }}
want: 2 1|42   |    é|007|-1.23e+03|%!s(BADINDEX)

tmpl: {{ printf "%g %g %.3g %.10g %g" 100000.0 1e21 1234.0 0.1 0.0001 }}|{{ printf "%6.2f%%" 99.5 }}
want: 100000 1e+21 1.23e+03 0.1 0.0001| 99.50%

tmpl: {{ printf "%!" 1 }}|{{ printf "%d" true }}|{{ printf "%t" 1 }}|{{ printf "%s" nil }}|{{ printf "%.2f" "x" }}|{{ printf "%s" 1.5 }}
want: %!!(int=1)|%!d(bool=true)|%!t(int=1)|%!s(<nil>)|%!f(string=x)|%!s(float64=1.5)

tmpl: {{ printf "%c|%q|%U|%x %X %o %#x %#o %b" 128512 97 65 255 255 8 255 8 5 }}
want: 😀|'a'|U+0041|ff FF 10 0xff 010 101

tmpl: {{ printf "% d|%+d|% x|%10.4v|" 5 -5 "hi" 3.14159265 }}|{{ printf "%v %v %v" 1e-7 123456789.0 0.000123 }}
want:  5|-5|68 69|     3.142||1e-07 1.23456789e+08 0.000123

tmpl: {{ printf "%3c|%-4q|%#q|%#q|%+q|" 65 "a" "a`b" "ab" "é" }}
want:   A|"a" |"a`b"|`ab`|"\u00e9"|

tmpl: {{ printf "%.0f %.0f %.0f" 0.5 1.5 2.5 }}|{{ printf "%5t|%-6t|" true false }}|{{ printf "%x" "" }}|{{ printf "%*d|%-*d|" 5 1 3 2 }}|{{ printf "%.*f" 2 3.14159 }}
want: 0 2 2| true|false |||    1|2  ||3.14

tmpl: {{ printf "%v %v" $labels (args "a") }}|{{ printf "%d" $labels }}|{{ printf "%s" (toTime 0) }}|{{ printf "%v" (first (query "sort_desc(up)")) }}
want: map[instance:host.example.com:9090 job:node] map[arg0:a]|map[%!d(string=instance):%!d(string=host.example.com:9090) %!d(string=job):%!d(string=node)]|1970-01-01 00:00:00 +0000 UTC|&{map[__name__:up instance:a:9090 job:node] 1}

tmpl: {{ printf "%08.3f|%-8.2f|%+.1f|% .1f|%08.3f" -3.14159 2.5 2.0 2.0 3.0 }}|{{ printf "%e %E" 0.0 1e100 }}
want: -003.142|2.50    |+2.0| 2.0|0003.000|0.000000e+00 1.000000E+100

tmpl: {{ printf "%q" "tab\tnl\nnbsp\u00a0zw\u200bbell\a" }}|{{ printf "%x %X" "é" "hi" }}
want: "tab\tnl\nnbsp\u00a0zw\u200bbell\a"|c3a9 6869

tmpl: {{ 1.0 }} {{ 0.1 }} {{ -1.5e-10 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 017 }} {{ '\n' }} {{ 9223372036854775807 }} {{ 1e21 }} {{ 123456789.0 }}
want: 1 0.1 -1.5e-10 31 15 5 15 10 9223372036854775807 1e+21 1.23456789e+08

tmpl: {{ 9223372036854775808 }}
error: template: NAME:1:115: executing "NAME" at <9223372036854775808>: 9223372036854775808 overflows int

tmpl: {{ 1a }}
error: template: NAME:1: bad number syntax: "1a"

tmpl: {{ 08 }}
error: template: NAME:1: integer overflow: "08"

tmpl: {{ $value }}
value: 123456789
want: 1.23456789e+08

tmpl: {{ humanize 0.000000000000000000000000001 }} {{ humanize -0.5 }} {{ humanize "1e3" }} {{ humanize "Inf" }} {{ humanize "-inf" }} {{ humanize "NaN" }}
want: 0.001y -500m 1k +Inf -Inf NaN

tmpl: {{ humanizeDuration 86400 }}|{{ humanizeDuration 0.001 }}|{{ humanizeDuration 0.0000000001 }}|{{ humanizeDuration -0.5 }}|{{ humanizeDuration 1e-30 }}
want: 1d 0h 0m 0s|1ms|100ps|-500ms|1e-06ys

tmpl: {{ humanizePercentage 0 }} {{ humanizePercentage -0.000012345 }} {{ humanize1024 -0.5 }} {{ humanize1024 1 }} {{ humanize1024 1025 }} {{ humanize1024 "2048" }}
want: 0% -0.001234% -0.5 1 1.001ki 2ki

tmpl: {{ humanize true }}
error: template: NAME:1:115: executing "NAME" at <humanize true>: error calling humanize: can't convert bool to float

tmpl: {{ humanize $labels }}
error: template: NAME:1:115: executing "NAME" at <humanize $labels>: error calling humanize: can't convert map[string]string to float

tmpl: {{ humanize (first (query "up")) }}
error: template: NAME:1:115: executing "NAME" at <humanize (first (query "up"))>: error calling humanize: can't convert *template.sample to float

tmpl: {{ value $labels }}
error: template: NAME:1:121: executing "NAME" at <$labels>: wrong type for value; expected *template.sample; got map[string]string

tmpl: {{ first "x" }}
error: template: NAME:1:121: executing "NAME" at <"x">: can't handle "x" for arg of type template.queryResult

tmpl: {{ first $labels }}
error: template: NAME:1:121: executing "NAME" at <$labels>: wrong type for value; expected template.queryResult; got map[string]string

tmpl: {{ label "x" nil }}
error: template: NAME:1:115: executing "NAME" at <label "x" nil>: error calling label: runtime error: invalid memory address or nil pointer dereference

tmpl: {{ first nil }}
error: template: NAME:1:115: executing "NAME" at <first nil>: error calling first: first() called on vector with no elements

tmpl: {{ toTime 1.5 }}|{{ (toTime 0).Format "Jan _2 15:04:05.000" }}|{{ (toTime 1700000000).Weekday }} {{ (toTime 1700000000).Month }} {{ (toTime 1700000000).YearDay }} {{ (toTime 1700000000).Day }}|{{ (toTime 1700000000).UTC }}
want: 1970-01-01 00:00:01.5 +0000 UTC|Jan  1 00:00:00.000|Tuesday November 318 14|2023-11-14 22:13:20 +0000 UTC

tmpl: {{ (toTime 1700000000.5).Format "2006-01-02T15:04:05.999Z07:00" }}|{{ (toTime 1700000000).Format "3:04:05 PM Monday 06 01 02 -0700" }}|{{ (toTime 1700000000).UnixMilli }}
want: 2023-11-14T22:13:20.5Z|10:13:20 PM Tuesday 23 11 14 +0000|1700000000000

tmpl: {{ (toTime 1700000000).Nope }}
error: template: NAME:1:123: executing "NAME" at <1700000000>: can't evaluate field Nope in type *time.Time

tmpl: {{ stripPort "host:" }}|{{ stripPort "[::1]" }}|{{ stripDomain "foo" }}|{{ stripDomain "::1" }}|{{ stripDomain "a.b.c:1" }}
want: host|[::1]|foo|::1|a:1

tmpl: {{ title "héllo wörld" }}|{{ title "a-b c_d e.f" }}|{{ toUpper "héllo" }}|{{ toLower "ÀB" }}
want: Héllo Wörld|A-B C_d E.F|HÉLLO|àb

tmpl: {{ graphLink "sum(rate(x{a=\"b\"}[5m]))" }}
want: /graph?g0.expr=sum%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29&g0.tab=0

tmpl: {{ reReplaceAll "a" "b" "" }}|{{ reReplaceAll "" "-" "abc" }}|{{ reReplaceAll "a*" "-" "baaac" }}|{{ reReplaceAll "(?P<host>[^:]+):(?P<port>\\d+)" "${port}@$host" "h:1" }}|{{ reReplaceAll "\\s+" "_" "a \t b" }}
want: |-a-b-c-|-b-c-|1@h|a_b

tmpl: {{ match "\\w+" "é" }} {{ match "[[:alpha:]]" "1a" }} {{ match "^\\S+$" "a b" }} {{ match "(?s)a.b" "a\nb" }} {{ match "a.b" "a\nb" }}
want: false true false true false

tmpl: {{ parseDuration "1y" }} {{ parseDuration "2w" }} {{ parseDuration "1h1m1s1ms" }}
want: 3.1536e+07 1.2096e+06 3661.001

tmpl: {{ parseDuration "" }}
error: template: NAME:1:115: executing "NAME" at <parseDuration "">: error calling parseDuration: empty duration string

tmpl: {{ parseDuration "1.5h" }}
error: template: NAME:1:115: executing "NAME" at <parseDuration "1.5h">: error calling parseDuration: not a valid duration string: "1.5h"

tmpl: {{ args }} {{ (args 1 2).arg1 }} {{ urlquery "a" "b" 1 }} {{ html 1 2 }} {{ js "a\u2028b" }}
want: map[] 2 ab1 1 2 a\u2028b

tmpl: {{ index $labels }} {{ index (args (args "deep")) "arg0" "arg0" }}
want: map[instance:host.example.com:9090 job:node] deep

tmpl: {{ index $labels 1 }}
error: template: NAME:1:115: executing "NAME" at <index $labels 1>: error calling index: value has type int; should be string

tmpl: {{ index (query "up") "x" }}
error: template: NAME:1:115: executing "NAME" at <index (query "up") "x">: error calling index: cannot index slice/array with type string

tmpl: {{ slice (query "up") 2 1 }}
error: template: NAME:1:115: executing "NAME" at <slice (query "up") 2 1>: error calling slice: invalid slice index: 2 > 1

tmpl: {{ len 3 }}
error: template: NAME:1:115: executing "NAME" at <len 3>: error calling len: len of type int

tmpl: {{ index 3 1 }}
error: template: NAME:1:115: executing "NAME" at <index 3 1>: error calling index: can't index item of type int

tmpl: {{ eq "a" 1 }}
error: template: NAME:1:115: executing "NAME" at <eq "a" 1>: error calling eq: incompatible types for comparison

tmpl: {{ eq $labels.missing "" }} {{ eq .Labels.job "node" "x" }} {{ or (eq 1 2) (eq 2 2) }} {{ or 1 (humanize "x") }} {{ "x" | and "y" }}
want: true true true 1 x

tmpl: {{ ne 1 }}
error: template: NAME:1:115: executing "NAME" at <ne>: wrong number of args for ne: want 2 got 1

tmpl: {{ eq 1 }}
error: template: NAME:1:115: executing "NAME" at <eq 1>: error calling eq: missing argument for comparison

tmpl: {{ and }}
error: template: NAME:1:115: executing "NAME" at <and>: wrong number of args for and: want at least 1 got 0

tmpl: {{ lt $labels 1 }}
error: template: NAME:1:115: executing "NAME" at <lt $labels 1>: error calling lt: invalid type for comparison

tmpl: {{ .Value.Foo }}
error: template: NAME:1:121: executing "NAME" at <.Value.Foo>: can't evaluate field Foo in type float64

tmpl: {{ .Labels.job 1 }}
error: template: NAME:1:122: executing "NAME" at <.Labels.job>: job is not a method but has arguments

tmpl: {{ 1 2 }}
error: template: NAME:1:115: executing "NAME" at <1>: can't give argument to non-function 1

tmpl: {{ $x := 1 }}{{ $x 2 }}
error: template: NAME:1:128: executing "NAME" at <$x>: can't give argument to non-function $x

tmpl: {{ .Value | $labels.job }}
error: template: NAME:1:131: executing "NAME" at <$labels.job>: job is not a method but has arguments

tmpl: {{ $x := 1 }}{{ $x := 2 }}{{ $x }} {{ $.Labels.job }} {{ range $labels }}{{ $.Value }}{{ end }} {{ .Labels.job | len }} {{ with $v := query "up" }}{{ len $v }}{{ end }}
want: 2 node 11 4 2

tmpl: {{ range $i, $v := $labels }}{{ end }}{{ $i }}
error: template: NAME:1: undefined variable "$i"

tmpl: a {{/* x */}} b|{{23 -}} < {{- 45}}|{{ "a" }}{{/* multi⏎line⏎comment */}}b|héllo {{ "wörld" }}
want: a  b|23<45|ab|héllo wörld

tmpl: {{ template "t" }}{{ define "t" }}ok{{ end }}
want: ok

tmpl: {{ define "t" }}a{{ end }}{{ define "t" }}b{{ end }}
error: template: NAME:1: template: multiple definition of template "t"

tmpl: {{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" 1 }}
error~: exceeded maximum template depth

tmpl: {{ break }}
error: template: NAME:1: {{break}} outside {{range}}

tmpl: {{ range query "up" }}{{ else }}{{ else }}{{ end }}
error: template: NAME:1: expected end; found {{else}}

tmpl: {{ if }}{{ end }}
error: template: NAME:1: missing value for if

tmpl: {{ range $a, $b, $c := $labels }}{{ end }}
error: template: NAME:1: too many declarations in range

tmpl: {{ $a, $b := 1 }}
error: template: NAME:1: too many declarations in command

tmpl: {{ ( }}
error: template: NAME:1: unclosed left paren

tmpl: {{ ) }}
error: template: NAME:1: unexpected ")" in command

tmpl: {{ "a" "b" }}
error: template: NAME:1:115: executing "NAME" at <"a">: can't give argument to non-function "a"

tmpl: {{ .Labels.job | printf "%s-%s" .Labels.instance }}|{{ with query "sort(up)" }}{{ range . }}{{ .Labels.instance }};{{ end }}{{ end }}
want: host.example.com:9090-node|b:9090;a:9090;

tmpl: {{ range $k, $v := $labels }}{{ if eq $k "job" }}{{ break }}{{ end }}{{ $v }}{{ end }}|{{ range $i, $e := query "sort(up)" }}{{ range $labels }}{{ continue }}{{ end }}{{ $i }}{{ end }}
want: host.example.com:9090|01

tmpl: {{ $value }} {{ printf "%.3f" $value }}
value: -0.5
want: -0.5 -0.500

tmpl: line1⏎line2 {{ humanize "x" }}
error: template: NAME:2:9: executing "NAME" at <humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax

tmpl: {{ define "x" }}X{{ . }}{{ end }}{{ tmpl "x" 5 }}
want: X5
oracle: no

tmpl: {{ urlQueryEscape "a b/c" }}
want: a+b%2Fc
oracle: no
"##;

/// One case of [`CASES`].
#[derive(Debug, Default)]
struct Case {
    tmpl: String,
    value: f64,
    want: Option<String>,
    error: Option<String>,
    error_part: Option<String>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for block in CASES.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        let mut case = Case { value: 1.0, ..Case::default() };
        for line in block.lines() {
            let (key, val) = line.split_once(": ").unwrap_or((line.trim_end_matches(':'), ""));
            let val = val.replace('⏎', "\n");
            match key {
                "tmpl" => case.tmpl = val,
                "value" => case.value = val.parse().expect("value"),
                "want" => case.want = Some(val),
                "error" => case.error = Some(val),
                "error~" => case.error_part = Some(val),
                "oracle" => {}
                _ => panic!("unknown key {key:?} in case {block:?}"),
            }
        }
        out.push(case);
    }
    out
}

fn data(value: f64) -> TemplateData {
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    TemplateData {
        labels: labels(&[("instance", "host.example.com:9090"), ("job", "node")]),
        external_labels: labels(&[("region", "eu")]),
        external_url: "http://prom.example.com:9090/prom".to_string(),
        value,
    }
}

fn up(instance: &str, value: f64) -> QuerySample {
    let labels = [("__name__", "up"), ("instance", instance), ("job", "node")];
    QuerySample { labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value }
}

fn query(q: &str) -> Result<Vec<QuerySample>, String> {
    match q {
        "up" => Ok(vec![up("a:9090", 1.0), up("b:9090", 0.0)]),
        "sort(up)" => Ok(vec![up("b:9090", 0.0), up("a:9090", 1.0)]),
        "sort_desc(up)" => Ok(vec![up("a:9090", 1.0), up("b:9090", 0.0)]),
        "nothing" => Ok(Vec::new()),
        _ => Err(format!("1:1: parse error: cannot run {q:?}")),
    }
}

#[test]
fn conformance_cases() {
    let cases = cases();
    assert!(cases.len() > 80, "only {} cases parsed", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let got = expand("NAME", &case.tmpl, &data(case.value), &query);
        let ok = match (&got, &case.want, &case.error, &case.error_part) {
            (Ok(out), Some(want), _, _) => out == want,
            (Err(e), _, Some(want), _) => e.to_string() == *want,
            (Err(e), _, _, Some(part)) => e.to_string().contains(part.as_str()),
            _ => false,
        };
        if !ok {
            failures.push(format!("tmpl: {}\n  got: {got:?}\n want: {:?}", case.tmpl, case));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn parse_once_execute_many() {
    let t = Template::parse("__alert_HighLoad", "{{ $labels.instance }}: {{ humanize $value }}").unwrap();
    assert_eq!(t.name(), "__alert_HighLoad");
    for (value, want) in [(1500.0, "host.example.com:9090: 1.5k"), (0.25, "host.example.com:9090: 250m")] {
        assert_eq!(t.execute(&data(value), &query).unwrap(), want);
    }
}

#[test]
fn errors_are_typed() {
    let parse = Template::parse("n", "{{ if }}").unwrap_err();
    assert!(matches!(parse, TemplateError::Parse { line: 1, .. }), "{parse:?}");
    let exec = expand("n", "{{ first (query \"nothing\") }}", &data(1.0), &query).unwrap_err();
    match exec {
        TemplateError::Exec { line, column, template, context, message, .. } => {
            assert_eq!((line, column, template.as_str()), (1, 115, "n"));
            assert_eq!(context, "first (query \"nothing\")");
            assert_eq!(message, "error calling first: first() called on vector with no elements");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn query_errors_name_the_query_function() {
    let err = expand("n", "{{ query \"rate(\" }}", &data(1.0), &query).unwrap_err().to_string();
    assert!(err.contains("error calling query: 1:1: parse error"), "{err}");
}
