/**
 * Result tables as Markdown (for papers/READMEs and notebooks), CSV (full precision, for
 * other tools) and HTML (notebook display).
 *
 * @module
 */
import { writeTextAtomic } from "../io/atomic.ts";
import { escapeXml } from "./encode.ts";
import { displayBundle } from "./display.ts";

/** One table row: column key → value. */
export type TableRow = Record<string, unknown>;

/** A column: its key in the rows, header label, and how values are shown. */
export interface TableColumn {
  key: string;
  /** Header text (default: the key). */
  label?: string;
  /** Decimals for non-integer numbers in Markdown/HTML (default 2). CSV keeps full precision. */
  digits?: number;
  /** Custom text for Markdown/HTML (CSV keeps the raw value). */
  format?: (value: unknown, row: TableRow) => string;
  /** Alignment in Markdown/HTML (default: right for numeric columns, else left). */
  align?: "left" | "right" | "center";
}

/** A column given as its key alone or in full. */
export type TableColumnSpec = string | TableColumn;

function resolveColumns(rows: TableRow[], columns?: TableColumnSpec[]): TableColumn[] {
  if (columns && columns.length > 0) {
    return columns.map((c) => typeof c === "string" ? { key: c } : c);
  }
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  return keys.map((key) => ({ key }));
}

function isMissing(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

function shown(col: TableColumn, row: TableRow): string {
  const v = row[col.key];
  if (col.format) return col.format(v, row);
  if (isMissing(v)) return "–";
  if (typeof v === "number") {
    return Number.isInteger(v) ? String(v) : v.toFixed(col.digits ?? 2);
  }
  return String(v);
}

function alignment(col: TableColumn, rows: TableRow[]): "left" | "right" | "center" {
  if (col.align) return col.align;
  const present = rows.map((r) => r[col.key]).filter((v) => !isMissing(v));
  return present.length > 0 && present.every((v) => typeof v === "number") ? "right" : "left";
}

/**
 * A GitHub-flavoured Markdown table. `columns` default to every key in row order.
 *
 * @example
 * ```ts
 * tableMarkdown([{ method: "CAM", maxBoxAcc: 63.7 }], ["method", { key: "maxBoxAcc", digits: 1 }]);
 * // | method | maxBoxAcc |
 * // | :--- | ---: |
 * // | CAM | 63.7 |
 * ```
 */
export function tableMarkdown(rows: TableRow[], columns?: TableColumnSpec[]): string {
  const cols = resolveColumns(rows, columns);
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  const rule = { left: ":---", right: "---:", center: ":---:" };
  const lines = [
    `| ${cols.map((c) => cell(c.label ?? c.key)).join(" | ")} |`,
    `| ${cols.map((c) => rule[alignment(c, rows)]).join(" | ")} |`,
    ...rows.map((r) => `| ${cols.map((c) => cell(shown(c, r))).join(" | ")} |`),
  ];
  return lines.join("\n") + "\n";
}

/**
 * An RFC 4180 CSV table (header row of labels; numbers at full precision; missing values
 * empty; fields with commas, quotes or newlines quoted).
 *
 * @example
 * ```ts
 * tableCsv([{ method: "CAM", maxBoxAcc: 63.7 }]); // "method,maxBoxAcc\nCAM,63.7\n"
 * ```
 */
export function tableCsv(rows: TableRow[], columns?: TableColumnSpec[]): string {
  const cols = resolveColumns(rows, columns);
  const field = (v: unknown): string => {
    if (isMissing(v)) return "";
    const s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [
    cols.map((c) => field(c.label ?? c.key)).join(","),
    ...rows.map((r) => cols.map((c) => field(r[c.key])).join(",")),
  ];
  return lines.join("\n") + "\n";
}

/**
 * An HTML table (for notebook display), with an optional caption.
 *
 * @example
 * ```ts
 * tableHtml(rows, ["method", "maxBoxAcc"], { caption: "Table 1 (measured here)" });
 * ```
 */
export function tableHtml(
  rows: TableRow[],
  columns?: TableColumnSpec[],
  opts: { caption?: string } = {},
): string {
  const cols = resolveColumns(rows, columns);
  const aligns = cols.map((c) => alignment(c, rows));
  const head = cols.map((c, i) =>
    `<th style="text-align:${aligns[i]}">${escapeXml(c.label ?? c.key)}</th>`
  )
    .join("");
  const body = rows.map((r) =>
    `<tr>${
      cols.map((c, i) => `<td style="text-align:${aligns[i]}">${escapeXml(shown(c, r))}</td>`).join(
        "",
      )
    }</tr>`
  ).join("\n");
  const caption = opts.caption ? `<caption>${escapeXml(opts.caption)}</caption>` : "";
  return `<table>${caption}\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/**
 * Write `basePath.md` and `basePath.csv` atomically (folders created); returns both paths.
 *
 * @example
 * ```ts
 * await writeTable("../figures/table1", rows, ["method", "maxBoxAcc"]);
 * ```
 */
export async function writeTable(
  basePath: string,
  rows: TableRow[],
  columns?: TableColumnSpec[],
): Promise<{ md: string; csv: string }> {
  const base = basePath.replace(/\.(md|csv)$/i, "");
  const md = `${base}.md`, csv = `${base}.csv`;
  await writeTextAtomic(md, tableMarkdown(rows, columns));
  await writeTextAtomic(csv, tableCsv(rows, columns));
  return { md, csv };
}

/**
 * Show a table in a notebook (HTML, with Markdown and plain-text alternatives); prints the
 * Markdown outside Jupyter.
 *
 * @example
 * ```ts
 * await displayTable(rows, ["method", { key: "maxBoxAcc", label: "MaxBoxAcc", digits: 1 }]);
 * ```
 */
export async function displayTable(
  rows: TableRow[],
  columns?: TableColumnSpec[],
  opts: { caption?: string } = {},
): Promise<void> {
  const md = tableMarkdown(rows, columns);
  const withCaption = opts.caption ? `**${opts.caption}**\n\n${md}` : md;
  await displayBundle({
    "text/html": tableHtml(rows, columns, opts),
    "text/markdown": withCaption,
    "text/plain": withCaption,
  });
}
