// Package helm checks the Helm chart of Quarterdeck (deploy/helm/quarterdeck) without a cluster:
// it renders the chart for each value set under values/ with Helm's own engine, decodes every
// manifest strictly into the Kubernetes API types (an unknown or misspelt field fails), checks
// what the platform needs of them, and runs Helm's linter. It is a Go module of its own so that
// Helm's and Kubernetes' dependencies stay out of the services' modules.
package helm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "quarterdeck"
	release   = "qd"
	namespace = "quarterdeck"
)

// valueSets are the value files CI renders: the smallest platform, a highly available one, and
// one on engines outside the cluster.
var valueSets = []string{"minimal", "production", "external"}

// certificate is the part of cert-manager's Certificate (cert-manager.io/v1) the chart writes,
// decoded as strictly as the Kubernetes types: a field cert-manager does not have fails.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		CommonName  string   `json:"commonName"`
		DNSNames    []string `json:"dnsNames"`
		Usages      []string `json:"usages"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// manifests are the decoded objects of one rendering, by kind and name.
type manifests struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	secrets      map[string]*corev1.Secret
	jobs         map[string]*batchv1.Job
	pdbs         map[string]*policyv1.PodDisruptionBudget
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	policies     map[string]*networkingv1.NetworkPolicy
	ingresses    map[string]*networkingv1.Ingress
	accounts     map[string]*corev1.ServiceAccount
	certificates map[string]*certificate
}

// newObject returns the typed object of a manifest's apiVersion and kind, and the map it goes in.
func (m *manifests) newObject(apiVersion, kind string) (any, func(name string)) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		return o, func(n string) { m.deployments[n] = o }
	case "v1 Service":
		o := &corev1.Service{}
		return o, func(n string) { m.services[n] = o }
	case "v1 Secret":
		o := &corev1.Secret{}
		return o, func(n string) { m.secrets[n] = o }
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		return o, func(n string) { m.accounts[n] = o }
	case "batch/v1 Job":
		o := &batchv1.Job{}
		return o, func(n string) { m.jobs[n] = o }
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		return o, func(n string) { m.pdbs[n] = o }
	case "autoscaling/v2 HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		return o, func(n string) { m.hpas[n] = o }
	case "networking.k8s.io/v1 NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		return o, func(n string) { m.policies[n] = o }
	case "networking.k8s.io/v1 Ingress":
		o := &networkingv1.Ingress{}
		return o, func(n string) { m.ingresses[n] = o }
	case "cert-manager.io/v1 Certificate":
		o := &certificate{}
		return o, func(n string) { m.certificates[n] = o }
	}
	return nil, nil
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readValues(t *testing.T, set string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("values", set+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("values/%s.yaml: %v", set, err)
	}
	return v
}

// render renders the chart with vals as `helm template` would, returning the output by file.
func render(t *testing.T, c *chart.Chart, vals map[string]any) (map[string]string, error) {
	t.Helper()
	rv, err := chartutil.ToRenderValues(c, vals, chartcommon.ReleaseOptions{Name: release, Namespace: namespace, Revision: 2, IsUpgrade: true}, nil)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, rv)
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decode splits the rendered files into manifests and decodes each strictly into its type.
func decode(t *testing.T, files map[string]string) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		secrets: map[string]*corev1.Secret{}, jobs: map[string]*batchv1.Job{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		policies: map[string]*networkingv1.NetworkPolicy{}, ingresses: map[string]*networkingv1.Ingress{},
		accounts: map[string]*corev1.ServiceAccount{}, certificates: map[string]*certificate{},
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, file := range names {
		if !strings.HasSuffix(file, ".yaml") {
			continue // NOTES.txt
		}
		for i, doc := range docSeparator.Split(files[file], -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Errorf("%s, document %d: %v\n%s", file, i, err, doc)
				continue
			}
			obj, keep := m.newObject(meta.APIVersion, meta.Kind)
			if obj == nil {
				t.Errorf("%s, document %d: %s %s is not a kind the chart is checked for; add it to newObject", file, i, meta.APIVersion, meta.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s, document %d (%s): strict decoding: %v\n%s", file, i, meta.Kind, err, doc)
				continue
			}
			var om struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			_ = yaml.Unmarshal([]byte(doc), &om)
			if om.Metadata.Name == "" {
				t.Errorf("%s, document %d: a %s without a name", file, i, meta.Kind)
			}
			keep(om.Metadata.Name)
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// settings are the QUARTERDECK_* variables docs/configuration.md documents, as patterns: a
// placeholder such as <NAME> stands for a word, "_TIER1 … _TIER4" for its range.
func settings(t *testing.T) []*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*regexp.Regexp
	for _, name := range regexp.MustCompile("`(QUARTERDECK_[A-Z0-9_<>*]+)`").FindAllStringSubmatch(string(b), -1) {
		if name[1] == "QUARTERDECK_*" {
			continue // "every setting", not one
		}
		p := regexp.QuoteMeta(name[1])
		p = regexp.MustCompile(`<[A-Z]+>`).ReplaceAllString(p, `[A-Z0-9]+`)
		p = strings.ReplaceAll(p, `\*`, `[A-Z0-9_]+`)
		out = append(out, regexp.MustCompile("^"+p+"$"))
	}
	if len(out) < 50 {
		t.Fatalf("found only %d settings in docs/configuration.md", len(out))
	}
	return out
}

// otherVariables are the variables the chart sets that are not Quarterdeck's own: the Go
// runtime's, the OpenTelemetry SDK's, and the pod's identity the latter use.
var otherVariables = []string{"GOMEMLIMIT", "POD_NAME", "POD_NAMESPACE", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"}

func documented(patterns []*regexp.Regexp, name string) bool {
	return slices.ContainsFunc(patterns, func(p *regexp.Regexp) bool { return p.MatchString(name) })
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// TestChartRendersAndValidates renders every value set and checks each manifest.
func TestChartRendersAndValidates(t *testing.T) {
	c := loadChart(t)
	docs := settings(t)
	for _, set := range valueSets {
		t.Run(set, func(t *testing.T) {
			vals := readValues(t, set)
			files, err := render(t, c, vals)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, files)
			checkPlatform(t, set, vals, m, docs)
		})
	}
}

// checkPlatform checks what the platform needs of a rendering.
func checkPlatform(t *testing.T, set string, vals map[string]any, m *manifests, docs []*regexp.Regexp) {
	full := release + "-quarterdeck"
	wantServices := []string{"budget", "vendors", "risk", "talent", "briefing"}
	ports := map[string]int32{"budget": 9001, "vendors": 9002, "risk": 9003, "talent": 9004, "briefing": 9005}
	if len(m.deployments) != len(wantServices)+1 {
		t.Errorf("%d Deployments, want one per service %v and the gateway", len(m.deployments), wantServices)
	}
	secretName, dbSecret := full, full
	if s, _ := vals["secrets"].(map[string]any)["existingSecret"].(string); s != "" {
		secretName, dbSecret = s, s
		if len(m.secrets) != 0 {
			t.Errorf("with secrets.existingSecret the chart makes Secrets %v", m.secrets)
		}
	} else if _, ok := m.secrets[full]; !ok {
		t.Errorf("no Secret %s", full)
	}
	if db, _ := vals["database"].(map[string]any); db != nil && db["existingSecret"] != nil {
		dbSecret = db["existingSecret"].(string)
	}
	wantReplicas := map[string]any{"minimal": "1", "production": "3", "external": "3"}[set]

	checkPod := func(name string, spec corev1.PodSpec, longRunning bool) map[string]corev1.EnvVar {
		t.Helper()
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
			psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod security context %+v: want non-root, a user other than 0, RuntimeDefault seccomp", name, psc)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted", name)
		}
		if len(spec.Containers) != 1 {
			t.Fatalf("%s: %d containers", name, len(spec.Containers))
		}
		ctr := spec.Containers[0]
		sc := ctr.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
			!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			sc.Privileged == nil || *sc.Privileged {
			t.Errorf("%s: container security context %+v: want no privilege escalation, a read-only root, ALL capabilities dropped", name, sc)
		}
		if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resources %+v: want CPU and memory requests and a memory limit", name, ctr.Resources)
		}
		if !strings.HasPrefix(ctr.Image, "quarterdeck:") && !strings.HasPrefix(ctr.Image, "registry.example.com/") {
			t.Errorf("%s: image %q", name, ctr.Image)
		}
		e := env(ctr)
		for n, v := range e {
			switch {
			case slices.Contains(otherVariables, n):
			case !strings.HasPrefix(n, "QUARTERDECK_") || !documented(docs, n):
				t.Errorf("%s: sets %s, which no binary documents in docs/configuration.md", name, n)
			}
			if ref := v.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				want := secretName
				if strings.HasSuffix(n, "DATABASE_URL") {
					want = dbSecret
				}
				if ref.SecretKeyRef.Name != want {
					t.Errorf("%s: %s from Secret %s, want %s", name, n, ref.SecretKeyRef.Name, want)
				}
				if s, ok := m.secrets[want]; ok {
					if _, has := s.StringData[ref.SecretKeyRef.Key]; !has && (ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional) {
						t.Errorf("%s: %s from key %s, which Secret %s does not have", name, n, ref.SecretKeyRef.Key, want)
					}
				}
			}
		}
		if got := e["QUARTERDECK_EVENT_STREAM_REPLICAS"].Value; got != wantReplicas {
			t.Errorf("%s: stream replicas %q, want %v", name, got, wantReplicas)
		}
		if longRunning {
			if ctr.LivenessProbe == nil || ctr.ReadinessProbe == nil || ctr.StartupProbe == nil {
				t.Errorf("%s: probes liveness %v readiness %v startup %v", name, ctr.LivenessProbe, ctr.ReadinessProbe, ctr.StartupProbe)
			}
			if ctr.Lifecycle == nil || ctr.Lifecycle.PreStop == nil || ctr.Lifecycle.PreStop.Sleep == nil {
				t.Errorf("%s: no preStop sleep, so callers would see it stop before it leaves its Service", name)
			}
		}
		tlsOn := set != "minimal"
		if _, ok := e["QUARTERDECK_GRPC_TLS_CA_FILE"]; ok != tlsOn {
			t.Errorf("%s: internal TLS %v, want %v", name, ok, tlsOn)
		}
		return e
	}

	for _, svc := range wantServices {
		name := full + "-" + svc
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s", name)
			continue
		}
		e := checkPod(name, d.Spec.Template.Spec, true)
		ctr := d.Spec.Template.Spec.Containers[0]
		if !slices.Equal(ctr.Command, []string{"/usr/local/bin/quarterdeck-" + svc}) {
			t.Errorf("%s: command %v", name, ctr.Command)
		}
		if d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
			t.Errorf("%s: a rolling update may take a replica away before its successor is ready", name)
		}
		// Probes: the gRPC health protocol, on the cleartext health port that the service serves.
		health := e["QUARTERDECK_HEALTH_ADDR"].Value
		for what, p := range map[string]*corev1.Probe{"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe} {
			if p == nil || p.GRPC == nil || fmt.Sprintf(":%d", p.GRPC.Port) != health {
				t.Errorf("%s: %s probe %+v, want grpc on the health port %s", name, what, p, health)
			}
		}
		if got := e["QUARTERDECK_GRPC_ADDR"].Value; got != fmt.Sprintf(":%d", ports[svc]) {
			t.Errorf("%s: QUARTERDECK_GRPC_ADDR %q", name, got)
		}
		// Every peer it calls is a headless Service of the release with that port.
		for n, v := range e {
			if strings.HasPrefix(n, "QUARTERDECK_PEER_") {
				checkTarget(t, m, name+" "+n, v.Value)
			}
		}
		if (svc == "vendors" || svc == "talent") && e["QUARTERDECK_PEER_BUDGET_ADDR"].Value == "" {
			t.Errorf("%s: no address of budget, which %s calls", name, svc)
		}
		// Budget and vendors call talent under their owner write policy, for team owners.
		if (svc == "risk" || svc == "budget" || svc == "vendors") && e["QUARTERDECK_PEER_TALENT_ADDR"].Value == "" {
			t.Errorf("%s: no address of talent, which %s calls", name, svc)
		}
		if svc == "briefing" && (d.Spec.Replicas == nil || *d.Spec.Replicas != 1) {
			t.Errorf("%s: %v replicas; the briefing runs one", name, d.Spec.Replicas)
		}
		s := m.services[name]
		if s == nil || s.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("%s: Service %+v, want a headless one", name, s)
		}
		checkPolicy(t, set, m, name, svc, wantServices)
		if set != "minimal" {
			if _, ok := m.pdbs[name]; !ok {
				t.Errorf("no PodDisruptionBudget %s", name)
			}
		}
		job, ok := m.jobs[name+"-migrate"]
		if !ok {
			t.Errorf("no migration Job for %s", name)
		} else {
			checkPod(name+"-migrate", job.Spec.Template.Spec, false)
			if got := job.Spec.Template.Spec.Containers[0].Command; !slices.Equal(got, []string{"/usr/local/bin/quarterdeck-" + svc, "migrate"}) {
				t.Errorf("%s-migrate: command %v", name, got)
			}
			if job.Annotations["helm.sh/hook"] != "pre-upgrade" {
				t.Errorf("%s-migrate: hook %q", name, job.Annotations["helm.sh/hook"])
			}
		}
		checkCertificate(t, set, m, name)
	}

	gw := full + "-gateway"
	d, ok := m.deployments[gw]
	if !ok {
		t.Fatalf("no Deployment %s", gw)
	}
	e := checkPod(gw, d.Spec.Template.Spec, true)
	for _, svc := range wantServices {
		v := e[fmt.Sprintf("QUARTERDECK_%s_ADDR", strings.ToUpper(svc))].Value
		checkTarget(t, m, gw+" address of "+svc, v)
	}
	if e["QUARTERDECK_IDENTITY_SIGNING_KEY"].ValueFrom == nil || e["QUARTERDECK_GATEWAY_DATABASE_URL"].ValueFrom == nil {
		t.Errorf("%s: the signing key and the database URL must come from Secrets", gw)
	}
	_, hpa := m.hpas[gw]
	if hpa != (set != "minimal") {
		t.Errorf("%s: HorizontalPodAutoscaler %v", gw, hpa)
	}
	if hpa && d.Spec.Replicas != nil {
		t.Errorf("%s: replicas %d set beside the autoscaler, which every upgrade would reset", gw, *d.Spec.Replicas)
	}
	if _, ok := m.jobs[gw+"-migrate"]; !ok {
		t.Errorf("no migration Job for the gateway")
	}
	checkCertificate(t, set, m, gw)
	if set == "production" {
		if len(m.ingresses) != 1 {
			t.Errorf("%d Ingresses", len(m.ingresses))
		}
		if e["QUARTERDECK_OTLP_ENDPOINT"].Value == "" || e["OTEL_TRACES_SAMPLER"].Value == "" {
			t.Errorf("%s: no OpenTelemetry export settings", gw)
		}
	}
}

// checkTarget checks that a gRPC target dns:///<service>:<port> names a headless Service of the
// rendering that serves that port.
func checkTarget(t *testing.T, m *manifests, what, target string) {
	t.Helper()
	host, port, ok := strings.Cut(strings.TrimPrefix(target, "dns:///"), ":")
	if !ok || !strings.HasPrefix(target, "dns:///") {
		t.Errorf("%s: target %q, want dns:///<service>:<port>", what, target)
		return
	}
	s, ok := m.services[host]
	if !ok {
		t.Errorf("%s: target %q names no Service of the release", what, target)
		return
	}
	if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return fmt.Sprint(p.Port) == port && p.Name == "grpc" }) {
		t.Errorf("%s: Service %s has no gRPC port %s", what, host, port)
	}
}

// checkPolicy checks that a service's gRPC port admits the gateway and the other services only.
func checkPolicy(t *testing.T, set string, m *manifests, name, svc string, services []string) {
	t.Helper()
	p, ok := m.policies[name]
	if set == "external" {
		if ok {
			t.Errorf("%s: a NetworkPolicy although networkPolicy.enabled is false", name)
		}
		return
	}
	if !ok {
		t.Errorf("no NetworkPolicy %s", name)
		return
	}
	for _, rule := range p.Spec.Ingress {
		if len(rule.Ports) != 1 || rule.Ports[0].Port.String() != "grpc" {
			continue
		}
		if len(rule.From) != 1 || rule.From[0].PodSelector == nil {
			t.Fatalf("%s: the gRPC port admits %+v", name, rule.From)
		}
		var components []string
		for _, r := range rule.From[0].PodSelector.MatchExpressions {
			if r.Key == "app.kubernetes.io/component" {
				components = r.Values
			}
		}
		want := []string{"gateway"}
		for _, o := range services {
			if o != svc {
				want = append(want, o)
			}
		}
		slices.Sort(components)
		slices.Sort(want)
		if !slices.Equal(components, want) {
			t.Errorf("%s: the gRPC port admits %v, want %v", name, components, want)
		}
		return
	}
	t.Errorf("%s: no rule for the gRPC port", name)
}

// checkCertificate checks that cert-manager is asked for a certificate that holds the name callers
// dial, stored where the pod mounts it.
func checkCertificate(t *testing.T, set string, m *manifests, name string) {
	t.Helper()
	c, ok := m.certificates[name]
	if ok != (set == "production") {
		t.Errorf("%s: cert-manager Certificate %v in %s", name, ok, set)
	}
	if !ok {
		return
	}
	if !slices.Contains(c.Spec.DNSNames, name) || !slices.Contains(c.Spec.Usages, "client auth") || !slices.Contains(c.Spec.Usages, "server auth") {
		t.Errorf("%s: certificate %+v: want its Service's name, server and client auth", name, c.Spec)
	}
	if c.Spec.SecretName != name+"-tls" {
		t.Errorf("%s: certificate stored in %s", name, c.Spec.SecretName)
	}
	d := m.deployments[name]
	mounted := slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == c.Spec.SecretName
	})
	if !mounted {
		t.Errorf("%s: the pod does not mount %s", name, c.Spec.SecretName)
	}
}

// TestChartRefusesMissingSecrets: without keys or a Secret to read them from, rendering fails
// with a message naming the value to set, rather than installing pods that cannot start.
func TestChartRefusesMissingSecrets(t *testing.T) {
	c := loadChart(t)
	for name, vals := range map[string]map[string]any{
		"no identity keys": {"database": map[string]any{"url": "postgres://db/quarterdeck"}},
		"no database":      {"secrets": map[string]any{"identitySigningKey": "k", "identityPublicKeys": "p"}},
	} {
		_, err := render(t, c, vals)
		if err == nil || !strings.Contains(err.Error(), "set ") {
			t.Errorf("%s: %v, want a failure naming the value to set", name, err)
		}
	}
	vals := readValues(t, "minimal")
	vals["services"].(map[string]any)["vendors"] = map[string]any{"peers": []any{"nowhere"}}
	if _, err := render(t, c, vals); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("a peer that is no service: %v", err)
	}
}

// TestChartLint runs Helm's linter on the chart with each value set; warnings fail too.
func TestChartLint(t *testing.T) {
	for _, set := range valueSets {
		res := lint.RunAll(chartDir, readValues(t, set), namespace)
		for _, msg := range res.Messages {
			if msg.Severity >= support.WarningSev {
				t.Errorf("helm lint with values/%s.yaml: %s", set, msg)
			} else {
				t.Logf("helm lint with values/%s.yaml: %s", set, msg)
			}
		}
	}
}

// TestEngineValues: the values given for the NATS chart and the CloudNativePG cluster parse, and
// carry the settings docs/deploy.md relies on.
func TestEngineValues(t *testing.T) {
	read := func(file string) map[string]any {
		b, err := os.ReadFile(filepath.Join("engines", file))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.UnmarshalStrict(bytes.TrimSpace(b), &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return v
	}
	get := func(v map[string]any, path ...string) any {
		var cur any = v
		for _, p := range path {
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		return cur
	}
	nats := read("nats-values.yaml")
	for path, want := range map[string]any{
		"config.cluster.enabled": true, "config.cluster.replicas": float64(3), "config.jetstream.enabled": true,
		"config.jetstream.fileStore.enabled": true, "config.jetstream.memoryStore.enabled": false,
		"config.jetstream.merge.sync_interval": "always",
	} {
		if got := get(nats, strings.Split(path, ".")...); got != want {
			t.Errorf("nats-values.yaml %s = %v, want %v", path, got, want)
		}
	}
	pg := read("cnpg-cluster.yaml")
	if get(pg, "kind") != "Cluster" || get(pg, "spec", "instances") != float64(3) || get(pg, "metadata", "name") != "quarterdeck-db" {
		t.Errorf("cnpg-cluster.yaml: %v", pg)
	}
	// The chart's production values read the Secret CloudNativePG makes for this cluster.
	prod := readValues(t, "production")
	if got := get(prod, "database", "existingSecret"); got != get(pg, "metadata", "name").(string)+"-app" {
		t.Errorf("production values read the database URL from %v", got)
	}
	limit, err := strconv.Atoi(fmt.Sprint(get(pg, "spec", "postgresql", "parameters", "max_connections")))
	if err != nil {
		t.Fatalf("cnpg-cluster.yaml max_connections: %v", err)
	}
	files, err := render(t, loadChart(t), prod)
	if err != nil {
		t.Fatal(err)
	}
	// docs/deploy.md, production.yaml and cnpg-cluster.yaml give the sum: 254.
	if n := connections(t, decode(t, files)); n > limit || n != 254 {
		t.Errorf("the production values' pods open up to %d PostgreSQL connections; the cluster allows %d, and the docs say 254", n, limit)
	}
}

// connections counts the PostgreSQL connections the pods of a rendering may hold at their most
// replicas (an autoscaler's maximum): a service pod its pool (QUARTERDECK_DATABASE_MAX_CONNS, else
// 16), one per lease (outbox relay, audit sealer, scheduler) and one while migrating; the gateway's
// pod its pool (QUARTERDECK_GATEWAY_DATABASE_MAX_CONNS, else 16), one for its outbox relay's lease
// and one while migrating.
func connections(t *testing.T, m *manifests) int {
	t.Helper()
	total := 0
	for name, d := range m.deployments {
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		if h, ok := m.hpas[name]; ok {
			replicas = int(h.Spec.MaxReplicas)
		}
		e := env(d.Spec.Template.Spec.Containers[0])
		per := 16 + 1 + 1
		if v, ok := e["QUARTERDECK_GATEWAY_DATABASE_MAX_CONNS"]; ok {
			n, err := strconv.Atoi(v.Value)
			if err != nil || n < 1 {
				t.Fatalf("%s: QUARTERDECK_GATEWAY_DATABASE_MAX_CONNS %q", name, v.Value)
			}
			per = n + 1 + 1
		}
		if _, service := e["QUARTERDECK_DATABASE_URL"]; service {
			per = 16 + 3 + 1
			if v, ok := e["QUARTERDECK_DATABASE_MAX_CONNS"]; ok {
				n, err := strconv.Atoi(v.Value)
				if err != nil || n < 1 {
					t.Fatalf("%s: QUARTERDECK_DATABASE_MAX_CONNS %q", name, v.Value)
				}
				per = n + 3 + 1
			}
		}
		total += replicas * per
	}
	return total
}
