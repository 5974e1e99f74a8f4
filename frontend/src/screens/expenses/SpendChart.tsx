/**
 * A bar chart of totals with one series per currency (Chart.js, loaded only with this module),
 * and the same numbers as a table: exact, readable without the canvas, and keyboard-reachable.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";
import { useEffect, useRef } from "react";

import { amountForChart, formatMoney } from "../../ui/money";
import type { ChartShape } from "./chartData";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const PALETTE = ["#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d", "#7c3aed", "#dc2626"];

export function SpendChart({
  shape,
  title,
  labelFor = (label) => label,
}: {
  shape: ChartShape;
  title: string;
  labelFor?: (label: string) => string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<"bar", (number | null)[], string> | null>(null);
  const labels = shape.labels.map(labelFor);

  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const config: ChartConfiguration<"bar", (number | null)[], string> = {
      type: "bar",
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              // The exact decimal from the API, never the float used for the bar's height.
              label: (item) => {
                const series = chart.current?.data.datasets[item.datasetIndex] as
                  { label?: string; exact?: (string | null)[] } | undefined;
                const exact = series?.exact?.[item.dataIndex];
                return exact ? formatMoney(exact, series.label ?? "") : "";
              },
            },
          },
        },
        scales: { y: { beginAtZero: true } },
      },
    };
    chart.current = new Chart(element, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const current = chart.current;
    if (!current) return;
    current.data.labels = labels;
    current.data.datasets = shape.series.map((series, i) => ({
      label: series.currency,
      data: series.totals.map((total) => (total === null ? null : amountForChart(total))),
      exact: series.totals,
      backgroundColor: PALETTE[i % PALETTE.length] ?? "#4f46e5",
      borderRadius: 4,
      maxBarThickness: 48,
    }));
    current.update();
  }, [shape, labels.join("\u0000")]); // eslint-disable-line react-hooks/exhaustive-deps

  const single = shape.series.length === 1;
  return (
    <figure className="spend-chart mb-0">
      <div className="spend-chart-canvas">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`${title}: bar chart; the same totals are in the table below.`}
        />
      </div>
      <figcaption className="visually-hidden">{title}</figcaption>
      {/* Focusable and named: a keyboard user can scroll the table when it is wider than the card. */}
      <div className="table-responsive mt-3" role="region" aria-label={`${title} (table)`} tabIndex={0}>
        <table className="table table-sm mb-0 chart-table">
          <caption className="visually-hidden">{title} (table)</caption>
          <thead>
            <tr>
              <th scope="col">{single ? "" : "Group"}</th>
              {shape.series.map((series) => (
                <th scope="col" key={series.currency} className="text-end">
                  {series.currency}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {labels.map((label, row) => (
              <tr key={`${label}-${row}`}>
                <th scope="row" className="fw-normal">
                  {label}
                </th>
                {shape.series.map((series) => {
                  const total = series.totals[row];
                  return (
                    <td key={series.currency} className="text-end money">
                      {total ? (
                        formatMoney(total, series.currency)
                      ) : (
                        <span className="text-body-secondary">—</span>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

export default SpendChart;
