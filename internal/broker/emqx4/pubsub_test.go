package emqx4

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

func TestPublish(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/mqtt/publish",
		brokertest.JSON(200, `{"code":0,"data":{"msgid":"5F2A"}}`),
		brokertest.JSON(200, `{"code":0}`),
		brokertest.JSON(200, `{"code":115,"message":"bad_topic"}`))
	c, rec := newTestClient(t, s)
	ctx := context.Background()
	r1, err1 := c.Publish(ctx, broker.Message{Topic: "a/b", Payload: []byte("hi"), QoS: 1, Retain: true})
	r2, err2 := c.Publish(ctx, broker.Message{Topic: "a/b", Payload: []byte{0xff, 0x00}})
	_, err3 := c.Publish(ctx, broker.Message{Topic: "a/#"})
	if diff := cmp.Diff([]broker.PublishResult{{ID: "5F2A"}, {}}, []broker.PublishResult{r1, r2}, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	if err1 != nil || err2 != nil {
		t.Errorf("errors: %v, %v", err1, err2)
	}
	if diff := cmp.Diff(fields("Publish", broker.ClassRejected, "115", 200, "IllegalTopic"), brokertest.Fields(err3)); diff != "" {
		t.Errorf("bad topic mismatch (-want +got):\n%s", diff)
	}
	if got := err3.Error(); got != "Publish: broker code 115 (illegal topic): bad_topic" {
		t.Errorf("message = %q", got)
	}
	var bodies []map[string]any
	for _, r := range s.Requests() {
		var m map[string]any
		_ = json.Unmarshal([]byte(r.Body), &m)
		bodies = append(bodies, m)
	}
	want := []map[string]any{
		{"topic": "a/b", "payload": "hi", "encoding": "plain", "qos": float64(1), "retain": true, "return": true},
		{"topic": "a/b", "payload": "/wA=", "encoding": "base64", "qos": float64(0), "retain": false, "return": true},
		{"topic": "a/#", "payload": "", "encoding": "plain", "qos": float64(0), "retain": false, "return": true},
	}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("bodies mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Publish=0", "Publish=0", "Publish=115"}, rec.Results()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestBatches(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v4/mqtt/publish_batch", brokertest.JSON(200, `{"code":0,"data":[{"topic":"a","code":0},{"topic":"#","code":115},{"code":108,"message":"bad_params"}]}`))
	s.On(http.MethodPost, "/api/v4/mqtt/subscribe_batch", brokertest.JSON(200, `{"code":0,"data":[{"clientid":"c1","topic":"a","code":0},{"clientid":"c2","topic":"b","code":112}]}`))
	s.On(http.MethodPost, "/api/v4/mqtt/unsubscribe_batch", brokertest.JSON(200, `{"code":0,"data":[{"clientid":"c1","topic":"a","code":0}]}`))
	s.On(http.MethodPost, "/api/v4/mqtt/subscribe", brokertest.JSON(200, `{"code":112,"message":"channel_not_found"}`), brokertest.JSON(200, `{"code":116,"message":"bad_qos"}`))
	s.On(http.MethodPost, "/api/v4/mqtt/unsubscribe", brokertest.JSON(200, okBody))
	c, _ := newTestClient(t, s)
	ctx := context.Background()

	res, err := c.PublishBatch(ctx, []broker.Message{{Topic: "a"}, {Topic: "#"}, {Topic: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	var pubErrs []brokertest.ErrorFields
	for _, r := range res {
		pubErrs = append(pubErrs, brokertest.Fields(r.Err))
	}
	wantPub := []brokertest.ErrorFields{{}, fields("PublishBatch", broker.ClassRejected, "115", 200, "IllegalTopic"), fields("PublishBatch", broker.ClassRejected, "108", 200, "ParameterError")}
	if diff := cmp.Diff(wantPub, pubErrs); diff != "" {
		t.Errorf("publish batch mismatch (-want +got):\n%s", diff)
	}
	subErrs, err := c.SubscribeBatch(ctx, []broker.SubscribeRequest{{ClientID: "c1", Topic: "a"}, {ClientID: "c2", Topic: "b", QoS: 1}})
	if err != nil {
		t.Fatal(err)
	}
	unsubErrs, err := c.UnsubscribeBatch(ctx, []broker.SubscribeRequest{{ClientID: "c1", Topic: "a"}, {ClientID: "c1", Topic: "missing-reply"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]brokertest.ErrorFields{
		"subscribe":   {brokertest.Fields(subErrs[0]), brokertest.Fields(subErrs[1])},
		"unsubscribe": {brokertest.Fields(unsubErrs[0]), brokertest.Fields(unsubErrs[1])},
		"single": {
			brokertest.Fields(c.Subscribe(ctx, broker.SubscribeRequest{ClientID: "off", Topic: "t"})),
			brokertest.Fields(c.Subscribe(ctx, broker.SubscribeRequest{ClientID: "on", Topic: "t", QoS: 3})),
			brokertest.Fields(c.Unsubscribe(ctx, "on", "t")),
		},
	}
	want := map[string][]brokertest.ErrorFields{
		"subscribe":   {{}, fields("SubscribeBatch", broker.ClassNotFound, "112", 200, "ClientOffline")},
		"unsubscribe": {{}, fields("UnsubscribeBatch", broker.ClassTransient, "", 200, "Transient")},
		"single": {
			fields("Subscribe", broker.ClassNotFound, "112", 200, "ClientOffline"),
			fields("Subscribe", broker.ClassRejected, "116", 200, "BadQoS"),
			{},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subscribe mismatch (-want +got):\n%s", diff)
	}
	if none, err := c.PublishBatch(ctx, nil); none != nil || err != nil {
		t.Errorf("empty batch = %v, %v", none, err)
	}
	wantBodies := map[string]string{
		"/api/v4/mqtt/subscribe_batch":   `[{"clientid":"c1","qos":0,"topic":"a"},{"clientid":"c2","qos":1,"topic":"b"}]`,
		"/api/v4/mqtt/unsubscribe_batch": `[{"clientid":"c1","topic":"a"},{"clientid":"c1","topic":"missing-reply"}]`,
	}
	for _, r := range s.Requests() {
		if w, ok := wantBodies[r.Path]; ok && r.Body != w {
			t.Errorf("%s body = %s, want %s", r.Path, r.Body, w)
		}
	}
}

func TestListSubscriptions(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v4/subscriptions/c%231", brokertest.JSON(200, `{"code":0,"data":[{"node":"n","clientid":"c#1","topic":"a/+","qos":1}]}`))
	s.On(http.MethodGet, "/api/v4/subscriptions", brokertest.JSON(200, `{"code":0,"data":[{"node":"n","clientid":"c#1","topic":"$share/g/t","qos":2}],"meta":{"page":1,"limit":10000,"count":1,"hasnext":false}}`))
	c, _ := newTestClient(t, s)
	one, err := c.ListSubscriptions(context.Background(), "c#1")
	if err != nil {
		t.Fatal(err)
	}
	allSubs, err := c.ListSubscriptions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []broker.Subscription{{ClientID: "c#1", Topic: "a/+", QoS: 1, Node: "n"}, {ClientID: "c#1", Topic: "$share/g/t", QoS: 2, Node: "n"}}
	if diff := cmp.Diff(want, append(one, allSubs...)); diff != "" {
		t.Errorf("subscriptions mismatch (-want +got):\n%s", diff)
	}
}
