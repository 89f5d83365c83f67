// Built-in dashboards, defined as data. `$job` in an expression is replaced by the chosen job (as
// a regular expression: the expressions match it with `=~`, and "All" is `.+`).

import type { Unit } from './format';
import { escapeRegex } from './model';

export interface PanelDef {
  title: string;
  type: 'timeseries' | 'stat';
  expr: string;
  unit: Unit;
  stacked?: boolean;
  /** Grid columns the panel spans (of 4 for stats, 2 for charts). */
  wide?: boolean;
}

export interface DashboardDef {
  id: string;
  title: string;
  /** The `$job` variable's default value (when the job exists). */
  defaultJob: string;
  panels: PanelDef[];
}

/** The value of the "All" choice of `$job`. */
export const ALL = '__all__';

const FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs|devtmpfs|nsfs|autofs"';
const J = 'job=~"$job"';

export const DASHBOARDS: DashboardDef[] = [
  {
    id: 'host',
    title: 'Host',
    defaultJob: 'node',
    panels: [
      { title: 'CPU used', type: 'stat', unit: 'percent', expr: `100 * (1 - avg(rate(node_cpu_seconds_total{${J},mode="idle"}[1m])))` },
      { title: 'Memory used', type: 'stat', unit: 'percent', expr: `100 * (1 - sum(node_memory_MemAvailable_bytes{${J}}) / sum(node_memory_MemTotal_bytes{${J}}))` },
      { title: 'Disk used (fullest)', type: 'stat', unit: 'percent', expr: `100 * max(1 - node_filesystem_avail_bytes{${J},${FS}} / node_filesystem_size_bytes{${J},${FS}})` },
      { title: 'Load (1m)', type: 'stat', unit: '', expr: `max(node_load1{${J}})` },
      { title: 'CPU by mode', type: 'timeseries', unit: 'percent', stacked: true, expr: `100 * avg by (mode) (rate(node_cpu_seconds_total{${J},mode!="idle"}[1m]))` },
      { title: 'Memory used', type: 'timeseries', unit: 'percent', expr: `100 * (1 - node_memory_MemAvailable_bytes{${J}} / node_memory_MemTotal_bytes{${J}})` },
      { title: 'Disk used by mount point', type: 'timeseries', unit: 'percent', expr: `100 * (1 - node_filesystem_avail_bytes{${J},${FS}} / node_filesystem_size_bytes{${J},${FS}})` },
      { title: 'Disk I/O', type: 'timeseries', unit: 'bytes/s', expr: `sum by (instance, device) (rate(node_disk_read_bytes_total{${J}}[1m]) + rate(node_disk_written_bytes_total{${J}}[1m]))` },
      { title: 'Network received', type: 'timeseries', unit: 'bytes/s', expr: `sum by (instance, device) (rate(node_network_receive_bytes_total{${J},device!="lo"}[1m]))` },
      { title: 'Network sent', type: 'timeseries', unit: 'bytes/s', expr: `sum by (instance, device) (rate(node_network_transmit_bytes_total{${J},device!="lo"}[1m]))` },
    ],
  },
  {
    id: 'api',
    title: 'API performance',
    defaultJob: 'vitals',
    panels: [
      { title: 'Request rate', type: 'stat', unit: 'reqps', expr: `sum(rate({__name__=~".+_request_duration_seconds_count",${J}}[5m]))` },
      {
        title: 'Error ratio (5xx)',
        type: 'stat',
        unit: 'percentunit',
        expr: `(sum(rate({__name__=~".+_requests_total",${J},code=~"5.."}[5m])) or vector(0)) / sum(rate({__name__=~".+_requests_total",${J}}[5m]))`,
      },
      { title: 'p95 latency', type: 'stat', unit: 'seconds', expr: `histogram_quantile(0.95, sum by (le) (rate({__name__=~".+_request_duration_seconds_bucket",${J}}[5m])))` },
      { title: 'p99 latency', type: 'stat', unit: 'seconds', expr: `histogram_quantile(0.99, sum by (le) (rate({__name__=~".+_request_duration_seconds_bucket",${J}}[5m])))` },
      { title: 'Request rate by handler', type: 'timeseries', unit: 'reqps', stacked: true, expr: `sum by (handler) (rate({__name__=~".+_request_duration_seconds_count",${J}}[1m]))` },
      {
        title: 'Error ratio by handler',
        type: 'timeseries',
        unit: 'percentunit',
        expr: `(sum by (handler) (rate({__name__=~".+_requests_total",${J},code=~"5.."}[5m])) or 0 * sum by (handler) (rate({__name__=~".+_requests_total",${J}}[5m]))) / sum by (handler) (rate({__name__=~".+_requests_total",${J}}[5m]))`,
      },
      { title: 'p95 latency by handler', type: 'timeseries', unit: 'seconds', expr: `histogram_quantile(0.95, sum by (le, handler) (rate({__name__=~".+_request_duration_seconds_bucket",${J}}[5m])))` },
      { title: 'Responses by status code', type: 'timeseries', unit: 'reqps', stacked: true, expr: `sum by (code) (rate({__name__=~".+_requests_total",${J}}[5m]))` },
    ],
  },
];

/** An expression with its variables filled in (`$job` and `${job}`); values are regex-escaped. */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    if (!(name in vars)) return m;
    const v = vars[name];
    return v === ALL ? '.+' : escapeRegex(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  });
}

/** The job a dashboard starts with: the asked one if it exists, else its default, else the first. */
export function pickJob(jobs: string[], asked: string | null, def: string): string {
  if (asked && (asked === ALL || jobs.includes(asked))) return asked;
  if (jobs.includes(def)) return def;
  return jobs[0] ?? ALL;
}
