package emqx5

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/brokertest"
)

type pubRes struct {
	ID            string
	NoSubscribers bool
	Err           brokertest.ErrorFields
}

func pubResults(rs []broker.PublishResult) []pubRes {
	var out []pubRes
	for _, r := range rs {
		out = append(out, pubRes{r.ID, r.NoSubscribers, brokertest.Fields(r.Err)})
	}
	return out
}

func TestPublish(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v5/publish",
		brokertest.JSON(200, `{"id":"0005F"}`),
		brokertest.JSON(202, `{"reason_code":16,"message":"no_matching_subscribers"}`),
		brokertest.JSON(400, `{"reason_code":144,"message":"topic_name_invalid"}`),
		brokertest.JSON(400, `{"code":"BAD_REQUEST","message":"qos"}`))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	var got []pubRes
	for _, m := range []broker.Message{
		{Topic: "a", Payload: []byte("x"), QoS: 1, Retain: true},
		{Topic: "a", Payload: []byte{0x80}},
		{Topic: "a/#"},
		{Topic: "a", QoS: 3},
	} {
		r, err := c.Publish(ctx, m)
		got = append(got, pubRes{r.ID, r.NoSubscribers, brokertest.Fields(err)})
	}
	want := []pubRes{
		{ID: "0005F"},
		{NoSubscribers: true},
		{Err: fields("Publish", broker.ClassRejected, "reason_code:144", 400, "TopicNameInvalid")},
		{Err: fields("Publish", broker.ClassRejected, "BAD_REQUEST", 400, "BadRequest")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("publish mismatch (-want +got):\n%s", diff)
	}
	reqs := s.Requests()
	wantBodies := []string{
		`{"payload":"x","payload_encoding":"plain","qos":1,"retain":true,"topic":"a"}`,
		`{"payload":"gA==","payload_encoding":"base64","qos":0,"retain":false,"topic":"a"}`,
	}
	if diff := cmp.Diff(wantBodies, []string{reqs[0].Body, reqs[1].Body}); diff != "" {
		t.Errorf("bodies mismatch (-want +got):\n%s", diff)
	}
}

func TestPublishBatch(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v5/publish/bulk",
		brokertest.JSON(202, `[{"id":"1"},{"reason_code":16,"message":"no_matching_subscribers"}]`),
		brokertest.JSON(503, `[{"id":"2"},{"reason_code":131,"message":"failed_to_dispatch"}]`),
		brokertest.JSON(400, `{"reason_code":144,"message":"topic_name_invalid"}`),
		brokertest.JSON(200, `[{"id":"3"}]`))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	two := []broker.Message{{Topic: "a"}, {Topic: "b"}}
	r1, err1 := c.PublishBatch(ctx, two)
	r2, err2 := c.PublishBatch(ctx, two)
	_, err3 := c.PublishBatch(ctx, two)
	r4, err4 := c.PublishBatch(ctx, two)
	got := [][]pubRes{pubResults(r1), pubResults(r2), pubResults(r4)}
	want := [][]pubRes{
		{{ID: "1"}, {NoSubscribers: true}},
		{{ID: "2"}, {Err: fields("PublishBatch", broker.ClassTransient, "reason_code:131", 503, "ImplementationSpecificError")}},
		{{ID: "3"}, {Err: fields("PublishBatch", broker.ClassTransient, "", 200, "Transient")}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	if err1 != nil || err2 != nil || err4 != nil {
		t.Errorf("errors: %v %v %v", err1, err2, err4)
	}
	if diff := cmp.Diff(fields("PublishBatch", broker.ClassRejected, "reason_code:144", 400, "TopicNameInvalid"), brokertest.Fields(err3)); diff != "" {
		t.Errorf("rejected batch mismatch (-want +got):\n%s", diff)
	}
	if r, err := c.PublishBatch(ctx, nil); r != nil || err != nil {
		t.Errorf("empty batch = %v, %v", r, err)
	}
}

func TestSubscribe(t *testing.T) {
	offline := brokertest.JSON(404, `{"code":"CLIENTID_NOT_FOUND","message":"Client ID not found"}`)
	s := brokertest.NewServer(t)
	s.On(http.MethodPost, "/api/v5/clients/c1/subscribe", brokertest.JSON(200, `{"topic":"a","qos":1,"clientid":"c1"}`))
	s.On(http.MethodPost, "/api/v5/clients/off/subscribe", offline)
	s.On(http.MethodPost, "/api/v5/clients/c1/unsubscribe", brokertest.Reply{Status: 204})
	s.On(http.MethodPost, "/api/v5/clients/c1/subscribe/bulk", brokertest.JSON(200, `{"succeed":[{"topic":"a","qos":0}],"failed":[{"data":["c1","$share/g",{"qos":0}],"reason":"invalid_topic"}]}`))
	s.On(http.MethodPost, "/api/v5/clients/c%232/subscribe/bulk", brokertest.JSON(200, `[{"topic":"x","qos":2}]`))
	s.On(http.MethodPost, "/api/v5/clients/off/subscribe/bulk", offline)
	s.On(http.MethodPost, "/api/v5/clients/c1/unsubscribe/bulk", brokertest.Reply{Status: 204})
	s.On(http.MethodPost, "/api/v5/clients/off/unsubscribe/bulk", offline)
	s.On(http.MethodPost, "/api/v5/clients/down/subscribe/bulk", brokertest.JSON(500, `{"code":"UNKNOWN_ERROR","message":"x"}`))
	c, _ := newTestClient(t, s)
	ctx := context.Background()
	errs := []brokertest.ErrorFields{
		brokertest.Fields(c.Subscribe(ctx, broker.SubscribeRequest{ClientID: "c1", Topic: "a", QoS: 1})),
		brokertest.Fields(c.Subscribe(ctx, broker.SubscribeRequest{ClientID: "off", Topic: "a"})),
		brokertest.Fields(c.Unsubscribe(ctx, "c1", "a")),
		brokertest.Fields(c.Subscribe(ctx, broker.SubscribeRequest{Topic: "a"})),
	}
	wantErrs := []brokertest.ErrorFields{{}, fields("Subscribe", broker.ClassNotFound, "CLIENTID_NOT_FOUND", 404, "ClientIDNotFound"), {}, fields("Subscribe", broker.ClassRejected, "", 0, "Rejected")}
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("single mismatch (-want +got):\n%s", diff)
	}
	batch := []broker.SubscribeRequest{
		{ClientID: "c1", Topic: "a"},
		{ClientID: "c#2", Topic: "x", QoS: 2},
		{ClientID: "off", Topic: "y"},
		{ClientID: "c1", Topic: "$share/g"},
	}
	subErrs, err := c.SubscribeBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	unsubErrs, err := c.UnsubscribeBatch(ctx, []broker.SubscribeRequest{{ClientID: "off", Topic: "y"}, {ClientID: "c1", Topic: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]brokertest.ErrorFields
	for _, es := range [][]error{subErrs, unsubErrs} {
		var row []brokertest.ErrorFields
		for _, e := range es {
			row = append(row, brokertest.Fields(e))
		}
		got = append(got, row)
	}
	want := [][]brokertest.ErrorFields{
		{{}, {}, fields("SubscribeBatch", broker.ClassNotFound, "CLIENTID_NOT_FOUND", 404, "ClientIDNotFound"), fields("SubscribeBatch", broker.ClassRejected, "", 200, "Rejected")},
		{fields("UnsubscribeBatch", broker.ClassNotFound, "CLIENTID_NOT_FOUND", 404, "ClientIDNotFound"), {}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch mismatch (-want +got):\n%s", diff)
	}
	_, err = c.SubscribeBatch(ctx, []broker.SubscribeRequest{{ClientID: "down", Topic: "a"}, {ClientID: "c1", Topic: "a"}})
	if broker.ClassOf(err) != broker.ClassTransient {
		t.Errorf("systemic failure = %v, want a transient batch error", err)
	}
	bodies := map[string]string{}
	for _, r := range s.Requests() {
		bodies[r.Path] = r.Body
	}
	if got := bodies["/api/v5/clients/c1/subscribe/bulk"]; got != `[{"qos":0,"topic":"a"},{"qos":0,"topic":"$share/g"}]` {
		t.Errorf("c1 bulk body = %s", got)
	}
}

func TestListSubscriptions(t *testing.T) {
	s := brokertest.NewServer(t)
	s.On(http.MethodGet, "/api/v5/subscriptions", brokertest.JSON(200, `{"data":[{"node":"n","clientid":"c","topic":"a/+","qos":1,"nl":0}],"meta":{"page":1,"limit":1000,"hasnext":false,"count":1}}`))
	c, _ := newTestClient(t, s)
	subs, err := c.ListSubscriptions(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]broker.Subscription{{ClientID: "c", Topic: "a/+", QoS: 1, Node: "n"}}, subs); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if q := s.Requests()[0].RawQuery; q != "clientid=c&limit=1000&page=1" {
		t.Errorf("query = %q", q)
	}
}
