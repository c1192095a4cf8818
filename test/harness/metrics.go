package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a Prometheus text endpoint, by family name.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics reads the Prometheus text format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return fams, nil
}

// scrape GETs url with c and parses the answer.
func scrape(ctx context.Context, c *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// value is a sample's value: counters, gauges and untyped as they are,
// histograms and summaries by their observation count.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	return 0
}

func labelsMatch(m *dto.Metric, match map[string]string) bool {
	for k, want := range match {
		got := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == k {
				got = l.GetValue()
				break
			}
		}
		if got != want {
			return false
		}
	}
	return true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Sum adds up the samples of a family whose labels include every pair of
// match (nil matches all). A family the scrape lacks sums to 0.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, s := range m[name].GetMetric() {
		if labelsMatch(s, match) {
			sum += value(s)
		}
	}
	return sum
}

// HistogramSum adds up the sums of a histogram family's matching samples
// (with Sum's count, the mean of what it observes).
func (m Metrics) HistogramSum(name string, match map[string]string) float64 {
	var sum float64
	for _, s := range m[name].GetMetric() {
		if labelsMatch(s, match) {
			sum += s.GetHistogram().GetSampleSum()
		}
	}
	return sum
}

// SumBy is Sum grouped by the values of the labels in by, joined with " ".
func (m Metrics) SumBy(name string, by []string, match map[string]string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m[name].GetMetric() {
		if !labelsMatch(s, match) {
			continue
		}
		key := make([]string, len(by))
		for i, l := range by {
			key[i] = labelValue(s, l)
		}
		out[strings.Join(key, " ")] += value(s)
	}
	return out
}

// Delta is after minus before for every key of after; keys whose
// difference is zero are left out.
func Delta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
