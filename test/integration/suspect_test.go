package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/feed"
	"github.com/edgeplace/edgeplace/pkg/topology"
)

// TestSuspectMeasurementIsNotTrusted: a node that publishes 0.1 ms where
// its two site peers measure 20 ms gets a Warning event from the
// scheduler's network map, and a pod with a 15 ms SLO does not go there on
// that figure: it waits, and goes to a peer once one really is within it.
func TestSuspectMeasurementIsNotTrusted(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	lm := f.prefix + "-users"
	f.landmark(lm)
	site := map[string]string{v1alpha1.SiteLabel: f.prefix + "-site"}
	peer0, peer1 := f.node(f.prefix+"-peer-0", 4, site), f.node(f.prefix+"-peer-1", 4, site)
	liar := f.node(f.prefix+"-liar", 4, site)
	f.publish(peer0, rtt{landmark: lm, p90: 20 * time.Millisecond})
	f.publish(peer1, rtt{landmark: lm, p90: 21 * time.Millisecond})
	f.publish(liar, rtt{landmark: lm, p90: 100 * time.Microsecond})

	note := f.waitSuspectEvent(liar.Name, "landmark "+lm+":")
	assert.Contains(t, note, "landmark "+lm+": published p50 0.1ms is implausibly better than every peer's (lowest 18.0ms")

	f.pod("slo", demand(lm, "15ms"), 100)
	msg := f.waitUnschedulable("slo")
	assert.Contains(t, msg, "no node within 15ms p90 of "+lm)

	f.publish(peer1, rtt{landmark: lm, p90: 12 * time.Millisecond})
	assert.Equal(t, peer1.Name, f.waitBound("slo", waitTimeout))
}

// TestTriangleCheckCatchesANodeWithoutPeers: a node alone in its site and
// city publishes 0.1 ms to two landmarks that the nodes at their places
// measure 60 ms apart. No peer can vouch against it, but the triangle
// can: it gets a Warning event per landmark, naming the one it was held against,
// and a pod that wants one of the landmarks goes to a node at its place
// (1 ms) rather than to the liar's 0.1 ms.
func TestTriangleCheckCatchesANodeWithoutPeers(t *testing.T) {
	f := newFixture(t, sharedEnv(t))
	city := func(name string) string { return f.prefix + "-" + name }
	place := func(c string) map[string]string {
		return map[string]string{topology.CityLabel: c, topology.CarrierLabel: "telecom", v1alpha1.SiteLabel: c + "-site"}
	}
	east, west := f.prefix+"-east", f.prefix+"-west"
	for lm, c := range map[string]string{east: city("e"), west: city("w")} {
		_, err := f.e.edge.EdgeplaceV1alpha1().Landmarks().Create(f.ctx, &v1alpha1.Landmark{
			ObjectMeta: metav1.ObjectMeta{Name: lm, Labels: f.testLabel()},
			Spec:       v1alpha1.LandmarkSpec{Addresses: []string{"192.0.2.1:7"}, Location: v1alpha1.Location{City: c, Carrier: "telecom"}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	var atEast []string
	for i := range 2 {
		e := f.node(fmt.Sprintf("%s-e%d", f.prefix, i), 4, place(city("e")))
		f.publish(e, rtt{landmark: east, p90: time.Millisecond}, rtt{landmark: west, p90: 60 * time.Millisecond})
		atEast = append(atEast, e.Name)
		w := f.node(fmt.Sprintf("%s-w%d", f.prefix, i), 4, place(city("w")))
		f.publish(w, rtt{landmark: west, p90: time.Millisecond}, rtt{landmark: east, p90: 60 * time.Millisecond})
	}
	liar := f.node(f.prefix+"-liar", 4, place(city("alone")))
	f.publish(liar, rtt{landmark: east, p90: 100 * time.Microsecond}, rtt{landmark: west, p90: 100 * time.Microsecond})

	note := f.waitSuspectEvent(liar.Name, "landmark "+east+":")
	assert.Contains(t, note, "published p50 0.1ms is implausible: this object measured landmark "+west+" at 0.1ms, and nodes at "+west+" measure "+east+" at 53.1ms or more")
	f.waitSuspectEvent(liar.Name, "landmark "+west+":") // its own event, not lost in the first's series

	f.pod("near-east", demand(east, "15ms"), 100)
	assert.Contains(t, atEast, f.waitBound("near-east", waitTimeout), "placed at the landmark's place, not on the liar's figure")
}

// waitSuspectEvent polls until the scheduler's network map records a
// Warning event on the NodeNetwork whose note contains want (its
// estimation pass runs every 10 s), and returns the note.
func (f *fixture) waitSuspectEvent(object, want string) string {
	f.t.Helper()
	var note string
	require.NoError(f.t, wait.PollUntilContextTimeout(f.ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := f.e.kube.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Reason == feed.ReasonSuspect && ev.Regarding.Name == object && ev.Type == "Warning" && strings.Contains(ev.Note, want) {
				note = ev.Note
				return true, nil
			}
		}
		return false, nil
	}), "a Warning event on NodeNetwork %s containing %q", object, want)
	f.t.Logf("event: %s", note)
	return note
}
