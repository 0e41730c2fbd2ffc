/** Scaling curves (`vgic-lab curves`): measured points, SVG charts, JSON. */
export { CURVES, slope, type CurveDef, type FigureDef, type LineDef, type Derived } from './defs.js';
export { CURVE_BUDGETS, measurePoint, type CurveBudget, type PointProbe, type ProbeResult } from './measure.js';
export { runCurves, selectCurves, chartOf, toJson, renderText, writeCurves, failures, CURVES_SCHEMA, type CurvesReport, type CurveResult, type PointStats } from './run.js';
export { renderChart, escapeXml, formatSi, formatBinary, linearTicks, logTicks, wrap, PALETTE, type ChartSpec, type ChartSeries, type ChartPoint, type AxisSpec } from './svg-chart.js';
