package broker

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// conditionReason is the syntax metav1.Condition enforces on Reason.
var conditionReason = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

type codeRow struct {
	Name   string
	Reason string
	Class  Class
}

func TestCodes(t *testing.T) {
	tests := []struct {
		code string
		want codeRow
	}{
		{"0", codeRow{"success", "Success", ""}},
		{"101", codeRow{"rpc error", "RPCError", ClassTransient}},
		{"102", codeRow{"unknown error", "UnknownError", ClassTransient}},
		{"103", codeRow{"wrong username or password", "WrongUsernameOrPassword", ClassRejected}},
		{"104", codeRow{"empty username or password", "EmptyUsernameOrPassword", ClassRejected}},
		{"105", codeRow{"user does not exist", "UserNotFound", ClassNotFound}},
		{"106", codeRow{"admin cannot be deleted", "AdminUndeletable", ClassRejected}},
		{"107", codeRow{"missing parameter", "MissingParameter", ClassRejected}},
		{"108", codeRow{"parameter error", "ParameterError", ClassRejected}},
		{"109", codeRow{"invalid json", "InvalidJSON", ClassRejected}},
		{"110", codeRow{"plugin already loaded", "PluginLoaded", ClassRejected}},
		{"111", codeRow{"plugin not loaded", "PluginUnloaded", ClassMisconfigured}},
		{"112", codeRow{"client offline", "ClientOffline", ClassNotFound}},
		{"113", codeRow{"user already exists", "UserExists", ClassAlreadyExists}},
		{"114", codeRow{"old password wrong", "OldPasswordWrong", ClassRejected}},
		{"115", codeRow{"illegal topic", "IllegalTopic", ClassRejected}},
		{"116", codeRow{"bad qos", "BadQoS", ClassRejected}},
		{"117", codeRow{"unknown code", "Code117", ClassRejected}},
		{"BAD_REQUEST", codeRow{"bad request", "BadRequest", ClassRejected}},
		{"ALREADY_EXISTS", codeRow{"already exists", "AlreadyExists", ClassAlreadyExists}},
		{"NOT_FOUND", codeRow{"not found", "NotFound", ClassNotFound}},
		{"CLIENTID_NOT_FOUND", codeRow{"client id not found", "ClientIDNotFound", ClassNotFound}},
		{"INVALID_PARAMETER", codeRow{"invalid parameter", "InvalidParameter", ClassRejected}},
		{"UNSUPPORTED_MEDIA_TYPE", codeRow{"unsupported media type", "UnsupportedMediaType", ClassRejected}},
		{"INTERNAL_ERROR", codeRow{"internal error", "InternalError", ClassTransient}},
		{"NODE_DOWN", codeRow{"node down", "NodeDown", ClassTransient}},
		{"UNKNOWN_ERROR", codeRow{"unknown error", "UnknownError", ClassTransient}},
		{"PARAM_ERROR", codeRow{"parameter error", "ParamError", ClassRejected}},
		{"BAD_API_KEY_OR_SECRET", codeRow{"bad api key or secret", "BadAPIKeyOrSecret", ClassUnauthorized}},
		{"API_KEY_NOT_ALLOW", codeRow{"api key not allowed", "APIKeyNotAllow", ClassUnauthorized}},
		{"AUTHORIZATION_HEADER_ERROR", codeRow{"authorization header error", "AuthorizationHeaderError", ClassUnauthorized}},
		{"BAD_USERNAME_OR_PWD", codeRow{"bad username or password", "BadUsernameOrPwd", ClassUnauthorized}},
		{"TOKEN_TIME_OUT", codeRow{"token timed out", "TokenTimeOut", ClassUnauthorized}},
		{"BAD_TOKEN", codeRow{"bad token", "BadToken", ClassUnauthorized}},
		{"UNAUTHORIZED_ROLE", codeRow{"unauthorized role", "UnauthorizedRole", ClassUnauthorized}},
		{"SOME_NEW_CODE", codeRow{"some new code", "SomeNewCode", ClassRejected}},
		{"reason_code:16", codeRow{"no matching subscribers", "NoMatchingSubscribers", ""}},
		{"reason_code:131", codeRow{"implementation specific error", "ImplementationSpecificError", ClassRejected}},
		{"reason_code:144", codeRow{"topic name invalid", "TopicNameInvalid", ClassRejected}},
		{"reason_code:151", codeRow{"packet too large", "PacketTooLarge", ClassRejected}},
		{"reason_code:135", codeRow{"mqtt reason code 135", "ReasonCode135", ClassRejected}},
		{"", codeRow{"unknown code", "UnknownCode", ClassRejected}},
		{"9lives", codeRow{"9lives", "Code9lives", ClassRejected}},
		{"ünïcode-ÉRR", codeRow{"ünïcode érr", "NCodeRr", ClassRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got := codeRow{CodeName(tt.code), CodeReason(tt.code), CodeClass(tt.code)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("code %q mismatch (-want +got):\n%s", tt.code, diff)
			}
			if !conditionReason.MatchString(got.Reason) {
				t.Errorf("reason %q is not a valid condition reason", got.Reason)
			}
		})
	}
}

func TestClassHelpers(t *testing.T) {
	got := []Class{CodeClass("115"), CodeClass("101"), CodeClass("0"), CodeClass("BAD_TOKEN"), ReasonCodeClass(144), ReasonCodeClass(16)}
	want := []Class{ClassRejected, ClassTransient, "", ClassUnauthorized, ClassRejected, ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("class helpers mismatch (-want +got):\n%s", diff)
	}
	if got := ReasonCode(144); got != "reason_code:144" {
		t.Errorf("ReasonCode(144) = %q", got)
	}
}

func TestV4Uncoded(t *testing.T) {
	tests := []struct {
		msg  string
		want codeRow
	}{
		{"existed", codeRow{"user already exists", "UserExists", ClassAlreadyExists}},
		{"noexisted", codeRow{"user does not exist", "UserNotFound", ClassNotFound}},
		{"login", codeRow{"invalid login", "ParameterError", ClassRejected}},
		{"password", codeRow{"invalid password", "ParameterError", ClassRejected}},
		{`{add,#{access => <<"allow">>,action => <<"bad">>,result => <<"{error,action}">>}}`, codeRow{"invalid action", "ParameterError", ClassRejected}},
		{`{add,#{result => <<"{error,topic}">>,topic => <<>>}}`, codeRow{"invalid topic", "ParameterError", ClassRejected}},
		{`{add,#{result => <<"{error,login}">>}}`, codeRow{"invalid login", "ParameterError", ClassRejected}},
		{`{add,#{result => <<"{error,access}">>}}`, codeRow{"invalid access", "ParameterError", ClassRejected}},
		{"{error,existed}", codeRow{"user already exists", "UserExists", ClassAlreadyExists}},
		{"something else", codeRow{"broker error", "BrokerError", ClassRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			reason, name, class := V4Uncoded(tt.msg)
			if diff := cmp.Diff(tt.want, codeRow{name, reason, class}); diff != "" {
				t.Errorf("V4Uncoded(%q) mismatch (-want +got):\n%s", tt.msg, diff)
			}
		})
	}
}

func TestErrorRendering(t *testing.T) {
	tests := []struct {
		name       string
		err        *Error
		wantText   string
		wantReason string
	}{
		{
			name:       "v4 code",
			err:        &Error{Op: "Publish", Class: ClassRejected, Code: "115", HTTPStatus: 200, Message: "bad_topic"},
			wantText:   "Publish: broker code 115 (illegal topic): bad_topic",
			wantReason: "IllegalTopic",
		},
		{
			name:       "v5 code",
			err:        &Error{Op: "CreateUser", Class: ClassRejected, Code: "BAD_REQUEST", HTTPStatus: 400, Message: "x"},
			wantText:   "CreateUser: broker code BAD_REQUEST (bad request): x",
			wantReason: "BadRequest",
		},
		{
			name:       "uncoded with override",
			err:        &Error{Op: "CreateUser", Class: ClassAlreadyExists, HTTPStatus: 200, Message: "existed", ReasonOverride: "UserExists"},
			wantText:   "CreateUser: http 200: existed",
			wantReason: "UserExists",
		},
		{
			name:       "class only",
			err:        &Error{Op: "Health", Class: ClassTransient},
			wantText:   "Health",
			wantReason: "Transient",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := [2]string{tt.err.Error(), tt.err.Reason()}
			if diff := cmp.Diff([2]string{tt.wantText, tt.wantReason}, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzCodeReason(f *testing.F) {
	for _, s := range []string{"0", "115", "BAD_REQUEST", "reason_code:144", "", "__", "9", "reason_code:", "x-y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		r := CodeReason(code)
		if !conditionReason.MatchString(r) {
			t.Fatalf("CodeReason(%q) = %q, not a valid condition reason", code, r)
		}
		if CodeName(code) == "" {
			t.Fatalf("CodeName(%q) is empty", code)
		}
	})
}

func TestEveryV4CodeNamed(t *testing.T) {
	for c := 101; c <= 116; c++ {
		if _, ok := lookupCode(strconv.Itoa(c)); !ok {
			t.Errorf("v4 code %d has no entry", c)
		}
	}
}
