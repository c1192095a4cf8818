package broker

import (
	"strconv"
	"strings"
	"unicode"
)

// Result codes come in three shapes, all kept as strings in Error.Code so
// that status.brokerResult can show exactly what the broker said:
//
//   - v4 numeric codes: "0", "101" … "116";
//   - v5 string codes: "BAD_REQUEST", "ALREADY_EXISTS", …;
//   - v5 publish reason codes, which are MQTT 5 reason codes sent as
//     {"reason_code":144} without a "code" key. They are stored as
//     "reason_code:144" (ReasonCodePrefix + number) because a bare "144"
//     would be read as a v4 code, and the prefix names the JSON field the
//     number came from.
//
// Uncoded v4 replies such as {"message":"existed"} keep Code empty; drivers
// classify them with V4Uncoded and put the reason in Error.ReasonOverride.

// ReasonCodePrefix marks an Error.Code that holds a v5 publish reason_code.
const ReasonCodePrefix = "reason_code:"

// V4 result codes the drivers act on by number.
const (
	V4Success       = 0
	V4RPCError      = 101
	V4UnknownError  = 102
	V4MissingParam  = 107
	V4ParamError    = 108
	V4ClientOffline = 112
	V4IllegalTopic  = 115
	V4BadQoS        = 116
)

// v5 publish reason codes the drivers act on.
const (
	// ReasonNoMatchingSubscribers (0x10) is how v5 reports a publish nobody received; it is not a failure.
	ReasonNoMatchingSubscribers = 16
	// ReasonImplementationSpecific (0x83) is used both for undecodable payloads (400) and failed dispatch (503).
	ReasonImplementationSpecific = 131
	// ReasonTopicNameInvalid (0x90) is v5's counterpart of v4 code 115.
	ReasonTopicNameInvalid = 144
	// ReasonPacketTooLarge is 0x97; MQTT calls it "quota exceeded", but EMQX's publish API sends it for oversized messages.
	ReasonPacketTooLarge = 151
)

type codeInfo struct {
	name   string
	reason string
	class  Class
}

// v4Codes follows emqx_mgmt.hrl. Codes that the covered APIs never emit
// (103–106, 109–111, 113, 114) still get entries so that an unexpected
// reply is reported by name rather than as a bare number.
var v4Codes = map[int]codeInfo{
	0:   {"success", "Success", ""},
	101: {"rpc error", "RPCError", ClassTransient},
	102: {"unknown error", "UnknownError", ClassTransient},
	103: {"wrong username or password", "WrongUsernameOrPassword", ClassRejected},
	104: {"empty username or password", "EmptyUsernameOrPassword", ClassRejected},
	105: {"user does not exist", "UserNotFound", ClassNotFound},
	106: {"admin cannot be deleted", "AdminUndeletable", ClassRejected},
	107: {"missing parameter", "MissingParameter", ClassRejected},
	108: {"parameter error", "ParameterError", ClassRejected},
	109: {"invalid json", "InvalidJSON", ClassRejected},
	110: {"plugin already loaded", "PluginLoaded", ClassRejected},
	111: {"plugin not loaded", "PluginUnloaded", ClassMisconfigured},
	112: {"client offline", "ClientOffline", ClassNotFound},
	113: {"user already exists", "UserExists", ClassAlreadyExists},
	114: {"old password wrong", "OldPasswordWrong", ClassRejected},
	115: {"illegal topic", "IllegalTopic", ClassRejected},
	116: {"bad qos", "BadQoS", ClassRejected},
}

// v5Codes lists the string codes whose class is not simply "Rejected" or
// whose CamelCase form is not the mechanical one (ID, API, QoS initialisms).
var v5Codes = map[string]codeInfo{
	"BAD_REQUEST":                {"bad request", "BadRequest", ClassRejected},
	"ALREADY_EXISTS":             {"already exists", "AlreadyExists", ClassAlreadyExists},
	"NOT_FOUND":                  {"not found", "NotFound", ClassNotFound},
	"RESOURCE_NOT_FOUND":         {"resource not found", "ResourceNotFound", ClassNotFound},
	"CLIENTID_NOT_FOUND":         {"client id not found", "ClientIDNotFound", ClassNotFound},
	"INVALID_PARAMETER":          {"invalid parameter", "InvalidParameter", ClassRejected},
	"UNSUPPORTED_MEDIA_TYPE":     {"unsupported media type", "UnsupportedMediaType", ClassRejected},
	"INTERNAL_ERROR":             {"internal error", "InternalError", ClassTransient},
	"NODE_DOWN":                  {"node down", "NodeDown", ClassTransient},
	"UNKNOWN_ERROR":              {"unknown error", "UnknownError", ClassTransient},
	"PARAM_ERROR":                {"parameter error", "ParamError", ClassRejected},
	"BAD_API_KEY_OR_SECRET":      {"bad api key or secret", "BadAPIKeyOrSecret", ClassUnauthorized},
	"API_KEY_NOT_ALLOW":          {"api key not allowed", "APIKeyNotAllow", ClassUnauthorized},
	"AUTHORIZATION_HEADER_ERROR": {"authorization header error", "AuthorizationHeaderError", ClassUnauthorized},
	"BAD_USERNAME_OR_PWD":        {"bad username or password", "BadUsernameOrPwd", ClassUnauthorized},
	"TOKEN_TIME_OUT":             {"token timed out", "TokenTimeOut", ClassUnauthorized},
	"BAD_TOKEN":                  {"bad token", "BadToken", ClassUnauthorized},
	"UNAUTHORIZED_ROLE":          {"unauthorized role", "UnauthorizedRole", ClassUnauthorized},
}

// reasonCodes are the MQTT 5 reason codes v5's publish API answers with.
var reasonCodes = map[int]codeInfo{
	16:  {"no matching subscribers", "NoMatchingSubscribers", ""},
	131: {"implementation specific error", "ImplementationSpecificError", ClassRejected},
	144: {"topic name invalid", "TopicNameInvalid", ClassRejected},
	151: {"packet too large", "PacketTooLarge", ClassRejected},
}

// v4Uncoded maps the messages of v4 replies that carry no code (the
// auth/ACL Mnesia APIs answer {"message":"existed"} and the like).
var v4Uncoded = map[string]codeInfo{
	"existed":   {"user already exists", "UserExists", ClassAlreadyExists},
	"noexisted": {"user does not exist", "UserNotFound", ClassNotFound},
	"login":     {"invalid login", "ParameterError", ClassRejected},
	"password":  {"invalid password", "ParameterError", ClassRejected},
}

// v4UncodedFields are the field names the ACL API reports as {error,<field>}
// inside a printed Erlang term.
var v4UncodedFields = []string{"login", "topic", "action", "access", "password"}

// CodeName is the readable name of a result code in any of the three shapes
// ("115" → "illegal topic", "BAD_REQUEST" → "bad request",
// "reason_code:144" → "topic name invalid").
func CodeName(code string) string {
	if info, ok := lookupCode(code); ok {
		return info.name
	}
	if rc, ok := parseReasonCode(code); ok {
		return "mqtt reason code " + strconv.Itoa(rc)
	}
	if isNumeric(code) {
		return "unknown code"
	}
	words := strings.Fields(strings.ToLower(strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' {
			return ' '
		}
		return r
	}, code)))
	if len(words) == 0 {
		return "unknown code"
	}
	return strings.Join(words, " ")
}

// CodeReason is the CamelCase condition reason of a result code; it always
// satisfies the Kubernetes condition-reason syntax, even for codes this
// package does not know.
func CodeReason(code string) string {
	if info, ok := lookupCode(code); ok {
		return info.reason
	}
	if rc, ok := parseReasonCode(code); ok {
		return "ReasonCode" + strconv.Itoa(rc)
	}
	if isNumeric(code) {
		return "Code" + code
	}
	return camel(code)
}

// CodeClass is the class of a result code taken on its own; drivers refine
// it with what only they know (HTTP status, message text). Unknown codes are
// Rejected: the broker answered, so retrying the same request is unlikely to help.
func CodeClass(code string) Class {
	if info, ok := lookupCode(code); ok {
		return info.class
	}
	return ClassRejected
}

// ReasonCode renders a v5 publish reason_code as an Error.Code.
func ReasonCode(rc int) string { return ReasonCodePrefix + strconv.Itoa(rc) }

// ReasonCodeClass is the class of a v5 publish reason_code on a 4xx reply;
// 16 (no matching subscribers) gives "" because it is not a failure.
func ReasonCodeClass(rc int) Class { return CodeClass(ReasonCode(rc)) }

// V4Uncoded classifies a v4 error reply that has a message but no code. It
// returns the CamelCase reason, a readable name and the class. The ACL API
// prints an Erlang term such as {add,#{…,result => <<"{error,topic}">>}}; the
// failed field inside it is what the reason is derived from.
func V4Uncoded(message string) (reason, name string, class Class) {
	msg := strings.TrimSpace(message)
	if info, ok := v4Uncoded[msg]; ok {
		return info.reason, info.name, info.class
	}
	for _, f := range v4UncodedFields {
		if strings.Contains(msg, "{error,"+f+"}") {
			return "ParameterError", "invalid " + f, ClassRejected
		}
	}
	if strings.Contains(msg, "{error,existed}") {
		return "UserExists", "user already exists", ClassAlreadyExists
	}
	return "BrokerError", "broker error", ClassRejected
}

func lookupCode(code string) (codeInfo, bool) {
	if rc, ok := parseReasonCode(code); ok {
		info, found := reasonCodes[rc]
		return info, found
	}
	if isNumeric(code) {
		n, err := strconv.Atoi(code)
		if err != nil {
			return codeInfo{}, false
		}
		info, found := v4Codes[n]
		return info, found
	}
	info, found := v5Codes[code]
	return info, found
}

func parseReasonCode(code string) (int, bool) {
	rest, ok := strings.CutPrefix(code, ReasonCodePrefix)
	if !ok || !isNumeric(rest) {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

func isNumeric(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// camel turns UPPER_SNAKE (or anything else) into a valid condition reason:
// letters and digits only, starting with a letter.
func camel(code string) string {
	var b strings.Builder
	upperNext := true
	for _, r := range code {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if b.Len() == 0 && unicode.IsDigit(r) {
				b.WriteString("Code")
			}
			if upperNext {
				b.WriteRune(unicode.ToUpper(r))
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			upperNext = false
		default:
			upperNext = true
		}
	}
	if b.Len() == 0 {
		return "UnknownCode"
	}
	s := b.String()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
