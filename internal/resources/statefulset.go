package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mqttoperator/mqtt-operator/api/v1alpha1"
)

// ContainerName is the EMQX container of every pod.
const ContainerName = "emqx"

// Default image repositories, used as <repository>:<version> unless
// spec.managed.image is set: EMQX publishes 5.9 and later only as
// emqx-enterprise (docs/internals/managed.md, "Licensing").
const (
	imageRepository           = "emqx/emqx"
	enterpriseImageRepository = "emqx/emqx-enterprise"
)

// The images run as user emqx, uid and gid 1000 (their Dockerfiles create
// the user and chown /opt/emqx to it).
const emqxUID int64 = 1000

// Volume names, and the directories the image expects them at. VolumeData is
// also the name of the volumeClaimTemplate, so claims are data-<pod>.
const (
	VolumeData      = "data"
	volumeLog       = "log"
	volumeConfig    = "config"
	volumeBootstrap = "bootstrap"
	volumeTLS       = "tls"
	volumeLicense   = "license"
	dataDir         = "/opt/emqx/data" // mnesia: users, rules, API keys
	logDir          = "/opt/emqx/log"
)

// Where the TLS and license Secrets are mounted.
const (
	tlsDir          = "/opt/mqtt-operator/tls"
	tlsCertPath     = tlsDir + "/" + corev1.TLSCertKey
	tlsKeyPath      = tlsDir + "/" + corev1.TLSPrivateKeyKey
	licenseDir      = "/opt/mqtt-operator/license"
	licenseFileName = "license.key"
	licensePath     = licenseDir + "/" + licenseFileName
)

// image is the EMQX image of b: spec.managed.image, else the default
// repository of its version.
func image(b *v1alpha1.MQTTBroker) string {
	m := b.Spec.Managed
	if m.Image != "" {
		return m.Image
	}
	repo := imageRepository
	if v, ok := parseVersion(m.Version); ok && v.atLeast(5, 9, 0) {
		repo = enterpriseImageRepository
	}
	return repo + ":" + m.Version
}

// buildStatefulSet builds the EMQX StatefulSet. Its pod template carries
// the config and cookie hashes (ConfigHashAnnotation, CookieHashAnnotation).
func buildStatefulSet(b *v1alpha1.MQTTBroker, hashes podHashes) *appsv1.StatefulSet {
	m := b.Spec.Managed
	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: objectMeta(b, StatefulSetName(b)),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptrTo(replicas(m)),
			Selector:    &metav1.LabelSelector{MatchLabels: SelectorLabels(b)},
			ServiceName: HeadlessServiceName(b),
			// With OrderedReady a full restart on volumes deadlocks: every
			// node waits for its peers' tables before it serves /status
			// (docs/internals/managed.md, "Rollouts and restarts").
			PodManagementPolicy: appsv1.ParallelPodManagement,
			// One pod at a time, each only once Ready, which with the
			// readiness gate means joined.
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptrTo[int32](0)},
			},
			Template: podTemplate(b, hashes),
		},
	}
	if m.Storage != nil {
		sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{dataClaim(b)}
		// A removed ordinal's volume holds mnesia data for a node name that
		// a later scale-up would reuse: drop it on scale-down
		// (docs/internals/managed.md, "Scaling down"). Deleting the broker
		// keeps the data.
		sts.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		}
	}
	return sts
}

func dataClaim(b *v1alpha1.MQTTBroker) corev1.PersistentVolumeClaim {
	s := b.Spec.Managed.Storage
	return corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: VolumeData, Labels: SelectorLabels(b)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: s.StorageClassName,
			VolumeMode:       ptrTo(corev1.PersistentVolumeFilesystem),
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: s.Size},
			},
		},
	}
}

func podTemplate(b *v1alpha1.MQTTBroker, hashes podHashes) corev1.PodTemplateSpec {
	m := b.Spec.Managed
	major := m.MajorVersion()
	mounts := []corev1.VolumeMount{
		{Name: VolumeData, MountPath: dataDir},
		{Name: volumeLog, MountPath: logDir},
		{Name: volumeConfig, MountPath: configDir, ReadOnly: true},
		{Name: volumeBootstrap, MountPath: bootstrapDir, ReadOnly: true},
	}
	if m.TLS != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: volumeTLS, MountPath: tlsDir, ReadOnly: true})
	}
	if m.LicenseSecretRef != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: volumeLicense, MountPath: licenseDir, ReadOnly: true})
	}
	startup, readiness, liveness := probes(major)
	affinity := m.Affinity.DeepCopy()
	if affinity == nil && len(m.TopologySpreadConstraints) == 0 {
		affinity = defaultAffinity(b)
	}
	container := corev1.Container{
		Name:            ContainerName,
		Image:           image(b),
		ImagePullPolicy: m.ImagePullPolicy,
		// The start script derives the node name, then execs the image's
		// entrypoint with the image's default command.
		Command:                  []string{"/bin/sh", startPath},
		Args:                     []string{"/opt/emqx/bin/emqx", "foreground"},
		Ports:                    containerPorts(b),
		Env:                      containerEnv(b),
		Resources:                *m.Resources.DeepCopy(),
		StartupProbe:             startup,
		ReadinessProbe:           readiness,
		LivenessProbe:            liveness,
		SecurityContext:          containerSecurityContext(),
		VolumeMounts:             mounts,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels: commonLabels(b),
			Annotations: map[string]string{
				ConfigHashAnnotation: hashes.config,
				CookieHashAnnotation: hashes.cookie,
			},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{container},
			Volumes:    volumes(b),
			// Ready means joined, not just started: the controller sets
			// the condition (docs/internals/managed.md, "Cluster
			// membership").
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: JoinedCondition}},
			// Service links would inject variables such as EMQX_PORT for a
			// Service named emqx, and EMQX reads every EMQX_* variable as
			// configuration.
			EnableServiceLinks: ptrTo(false),
			// DNS discovery needs no Kubernetes API access.
			AutomountServiceAccountToken: ptrTo(false),
			SecurityContext:              podSecurityContext(),
			NodeSelector:                 copyMap(m.NodeSelector),
			Tolerations:                  deepCopySlice(m.Tolerations),
			Affinity:                     affinity,
			TopologySpreadConstraints:    deepCopySlice(m.TopologySpreadConstraints),
			PriorityClassName:            m.PriorityClassName,
			ImagePullSecrets:             deepCopySlice(m.ImagePullSecrets),
		},
	}
}

func volumes(b *v1alpha1.MQTTBroker) []corev1.Volume {
	major := b.Spec.Managed.MajorVersion()
	vols := []corev1.Volume{
		{Name: volumeLog, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: volumeConfig, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(b)},
			DefaultMode:          ptrTo[int32](0o444),
		}}},
		// Only the bootstrap file, group-readable for fsGroup 1000.
		secretVolume(volumeBootstrap, CredentialsSecretName(b), corev1.KeyToPath{Key: SecretKeyBootstrap, Path: bootstrapFileName(major)}),
	}
	if t := b.Spec.Managed.TLS; t != nil {
		vols = append(vols, secretVolume(volumeTLS, t.SecretName,
			corev1.KeyToPath{Key: corev1.TLSCertKey, Path: corev1.TLSCertKey},
			corev1.KeyToPath{Key: corev1.TLSPrivateKeyKey, Path: corev1.TLSPrivateKeyKey}))
	}
	if l := b.Spec.Managed.LicenseSecretRef; l != nil {
		vols = append(vols, secretVolume(volumeLicense, l.Name, corev1.KeyToPath{Key: l.Key, Path: licenseFileName}))
	}
	if b.Spec.Managed.Storage == nil {
		// Without storage the data dies with the pod; users and rules
		// survive only while one node of the cluster keeps running.
		vols = append([]corev1.Volume{{Name: VolumeData, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{},
		}}}, vols...)
	}
	return vols
}

// podSecurityContext is the pod part of the "restricted" Pod Security Standard.
// fsGroup makes the data, config and bootstrap volumes usable by uid 1000.
func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:        ptrTo(true),
		RunAsUser:           ptrTo(emqxUID),
		RunAsGroup:          ptrTo(emqxUID),
		FSGroup:             ptrTo(emqxUID),
		FSGroupChangePolicy: ptrTo(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// secretVolume projects keys of a Secret, group-readable for fsGroup 1000.
// Without subPath the kubelet keeps the files up to date when the Secret
// changes.
func secretVolume(name, secret string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  secret,
		Items:       items,
		DefaultMode: ptrTo[int32](0o440),
	}}}
}

// containerSecurityContext is the container part of the "restricted"
// standard. The root filesystem stays writable: the 4.4 entrypoint writes
// /opt/emqx/tmpfile (its working directory) whenever it edits
// data/loaded_plugins, and both versions' start scripts write under
// /opt/emqx (docs/internals/managed.md, "What the entrypoints write").
func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptrTo(true),
		RunAsUser:                ptrTo(emqxUID),
		RunAsGroup:               ptrTo(emqxUID),
		AllowPrivilegeEscalation: ptrTo(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// defaultAffinity prefers one node per Kubernetes node, so that losing a
// node loses one EMQX node; it never blocks scheduling.
func defaultAffinity(b *v1alpha1.MQTTBroker) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(b)},
				TopologyKey:   corev1.LabelHostname,
			},
		}},
	}}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// deepCopySlice copies a slice of API values via their DeepCopy methods.
func deepCopySlice[T any, P interface {
	*T
	DeepCopy() *T
}](in []T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i := range in {
		out[i] = *P(&in[i]).DeepCopy()
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }
