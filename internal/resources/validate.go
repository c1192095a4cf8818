package resources

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// ValidateSpec checks what the CRD schema cannot (the user env touches
// nothing the operator relies on) and, again, what it checks at admission
// (name, version, license), for objects stored before those rules. Every
// failure is a *SpecError.
func ValidateSpec(b *v1alpha1.MQTTBroker) error {
	if b == nil || b.Spec.Managed == nil {
		return specErrorf("spec.managed", "must be set to build a managed broker")
	}
	m := b.Spec.Managed
	// Service names are DNS-1035 labels and pod names must leave room for
	// the controller-revision-hash label.
	if errs := validation.IsDNS1035Label(b.Name); len(errs) > 0 {
		return specErrorf("metadata.name", "%q cannot name the broker's Services: %s", b.Name, strings.Join(errs, "; "))
	}
	if len(b.Name) > MaxBrokerNameLength {
		return specErrorf("metadata.name", "%q is longer than %d characters, too long for the StatefulSet's pod labels", b.Name, MaxBrokerNameLength)
	}
	if err := checkVersion(m); err != nil {
		return err
	}
	if r := replicas(m); r < 1 {
		return specErrorf("spec.managed.replicas", "must be at least 1, got %d", r)
	}
	if err := validateEnv(m.Env, m.MajorVersion()); err != nil {
		return err
	}
	if replicas(m) > 1 && licenseLimited(m) && m.LicenseSecretRef == nil {
		return specErrorf("spec.managed.replicas",
			"EMQX %s runs a single node without a license: set spec.managed.licenseSecretRef, use replicas: 1, or choose a version before 5.9",
			m.Version)
	}
	if m.LicenseSecretRef != nil && m.MajorVersion() != Major5 {
		return specErrorf("spec.managed.licenseSecretRef", "applies to EMQX 5 only")
	}
	return nil
}

// validate checks the whole input; Build calls it.
func (in Input) validate() error {
	if err := ValidateSpec(in.Broker); err != nil {
		return err
	}
	if err := in.Credentials.Validate(); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := validateCookie(in.Cookie); err != nil {
		return fmt.Errorf("cookie: %w", err)
	}
	return nil
}

// replicas is spec.managed.replicas with the CRD default of 1.
func replicas(m *v1alpha1.ManagedBroker) int32 {
	if m.Replicas == nil {
		return 1
	}
	return *m.Replicas
}
