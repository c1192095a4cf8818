// Package controllers holds one reconciler per kind of the
// mqtt.mqttoperator.io API.
package controllers
