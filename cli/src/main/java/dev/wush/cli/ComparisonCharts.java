package dev.wush.cli;

import dev.wush.quant.pipeline.LayerReport;
import dev.wush.quant.transform.TransformKind;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Paint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The plots of {@code wush compare}, drawn with JFreeChart and saved as PNG. */
final class ComparisonCharts {

    private static final int WIDTH = 1000;
    private static final int HEIGHT = 520;

    /** One colour per transform kind, the same in every plot. */
    private static final Map<TransformKind, Color> COLORS = Map.of(
            TransformKind.IDENTITY, new Color(0x9E9E9E), TransformKind.HADAMARD, new Color(0x1F77B4),
            TransformKind.RANDOM, new Color(0x8C564B), TransformKind.WUS, new Color(0xFF7F0E), TransformKind.WUSH, new Color(0x2CA02C));

    private ComparisonCharts() {}

    /**
     * Bars of perplexity per configuration, the full-precision model first, each bar in the colour of its configuration's
     * transform ({@code paints}: by configuration; the full-precision bar is black).
     */
    static void perplexity(Path file, String title, double fp32, Map<String, Double> perplexity, Map<String, Paint> paints)
            throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        data.addValue(fp32, "perplexity", "fp32");
        perplexity.forEach((config, ppl) -> data.addValue(ppl, "perplexity", config));
        BarRenderer renderer = new BarRenderer() {
            @Override
            public Paint getItemPaint(int row, int column) {
                return paints.getOrDefault((String) data.getColumnKey(column), Color.BLACK);
            }
        };
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        CategoryPlot plot = new CategoryPlot(data, new CategoryAxis("configuration"), new NumberAxis("perplexity"), renderer);
        plot.getDomainAxis().setCategoryLabelPositions(CategoryLabelPositions.UP_45);
        plot.setOrientation(PlotOrientation.VERTICAL);
        save(file, new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, false));
    }

    /** The colour of a transform kind, the same in every plot; adaptive choices get black. */
    static Paint paint(TransformKind kind) {
        return kind == null ? Color.DARK_GRAY : COLORS.get(kind);
    }

    /**
     * Per-layer calibration output error, one line per configuration, layers in pipeline order: coloured by transform
     * ({@code paints}), solid for RTN and dashed for GPTQ ({@code dashed}), thick for MXFP4 and thin for NVFP4
     * ({@code thick}).
     */
    static void layerErrors(Path file, String title, Map<String, List<LayerReport>> reports, Map<String, Paint> paints,
            java.util.Set<String> dashed, java.util.Set<String> thick) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        reports.forEach((config, layers) -> {
            XYSeries series = new XYSeries(config);
            for (int i = 0; i < layers.size(); i++) {
                series.add(i, Math.max(layers.get(i).error(), 1e-12)); // the log axis takes no zero
            }
            data.addSeries(series);
        });
        LogAxis y = new LogAxis("calibration output error (relative)");
        y.setAutoRange(true);
        y.setTickUnit(new NumberTickUnit(1.0)); // one tick per power of ten
        y.setNumberFormatOverride(new java.text.DecimalFormat("0.###E0"));
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, false);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            String config = (String) data.getSeriesKey(i);
            float width = thick.contains(config) ? 2.2f : 1.0f;
            renderer.setSeriesStroke(i, dashed.contains(config)
                    ? new BasicStroke(width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f)
                    : new BasicStroke(width));
            renderer.setSeriesPaint(i, paints.getOrDefault(config, Color.DARK_GRAY));
        }
        NumberAxis x = new NumberAxis("layer (block by block, in forward order)");
        x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        XYPlot plot = new XYPlot(data, x, y, renderer);
        save(file, new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true));
    }

    /** The transform adaptive selection chose for each linear (rows) of each decoder block (columns). */
    static void choices(Path file, String title, List<String> linears, int blocks, List<LayerReport> reports) throws IOException {
        int n = 0;
        double[][] xyz = new double[3][reports.size()];
        for (LayerReport r : reports) {
            int block = blockOf(r.name());
            int row = -1;
            for (int i = 0; i < linears.size(); i++) {
                if (r.name().endsWith("." + linears.get(i))) {
                    row = i;
                }
            }
            if (block < 0 || row < 0) {
                continue; // the LM head is not part of the grid
            }
            xyz[0][n] = block;
            xyz[1][n] = row;
            xyz[2][n] = r.transform().ordinal();
            n++;
        }
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("choice", new double[][] {java.util.Arrays.copyOf(xyz[0], n), java.util.Arrays.copyOf(xyz[1], n),
                java.util.Arrays.copyOf(xyz[2], n)});
        XYBlockRenderer renderer = new XYBlockRenderer();
        LookupPaintScale scale = new LookupPaintScale(0, TransformKind.values().length, Color.WHITE);
        for (TransformKind k : TransformKind.values()) {
            scale.add(k.ordinal(), COLORS.get(k));
        }
        renderer.setPaintScale(scale);
        NumberAxis x = new NumberAxis("decoder block");
        x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        x.setRange(-0.5, blocks - 0.5);
        SymbolAxis y = new SymbolAxis("linear", linears.toArray(String[]::new));
        y.setRange(-0.5, linears.size() - 0.5);
        XYPlot plot = new XYPlot(data, x, y, renderer);
        LegendItemCollection legend = new LegendItemCollection();
        for (TransformKind k : TransformKind.values()) {
            Paint paint = COLORS.get(k);
            legend.add(new LegendItem(k.label(), paint));
        }
        plot.setFixedLegendItems(legend);
        save(file, new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true));
    }

    /** The block number of {@code model.layers.N.…}, or -1. */
    static int blockOf(String path) {
        String prefix = "model.layers.";
        if (!path.startsWith(prefix)) {
            return -1;
        }
        int end = path.indexOf('.', prefix.length());
        return Integer.parseInt(path.substring(prefix.length(), end));
    }

    private static void save(Path file, JFreeChart chart) throws IOException {
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    }
}
