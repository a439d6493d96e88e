package ondemand

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgeplace/edgeplace/pkg/apis/edgeplace/v1alpha1"
	"github.com/edgeplace/edgeplace/pkg/generated/clientset/versioned/fake"
)

func TestRequesterWritesTheRightObject(t *testing.T) {
	existing := &v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: "site-tyo"},
		Spec: v1alpha1.NodeNetworkSpec{Scope: v1alpha1.ScopeSite, Site: "tyo"}}
	cases := []struct {
		name   string
		req    Request
		object string // where the request should land; "" for nowhere
		scope  v1alpha1.NodeNetworkScope
		owner  types.UID
	}{
		{name: "the object behind the row",
			req:    Request{Node: "n1", Object: "site-tyo", Site: "tyo", Landmarks: []string{"osaka"}},
			object: "site-tyo", scope: v1alpha1.ScopeSite},
		{name: "a site without its object yet",
			req:    Request{Node: "n1", Site: "kix", NodeUID: "u1", Landmarks: []string{"osaka"}},
			object: "site-kix", scope: v1alpha1.ScopeSite},
		{name: "a node without a site or an object",
			req:    Request{Node: "n1", NodeUID: "u1", Landmarks: []string{"osaka"}},
			object: "n1", scope: v1alpha1.ScopeNode, owner: "u1"},
		{name: "an unknown node is not given an object",
			req: Request{Node: "n1", Landmarks: []string{"osaka"}}},
		{name: "an object gone from under the row is not made again",
			req: Request{Node: "n1", Object: "n1", Landmarks: []string{"osaka"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			edge := fake.NewSimpleClientset(existing.DeepCopy())
			r := New(edge, 100)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() { defer close(done); r.Run(ctx) }()
			require.True(t, r.Ask(tc.req))

			require.Eventually(t, func() bool { return len(r.ready) == 0 && r.pendingLen() == 0 && writesDone(edge) > 0 },
				5*time.Second, 5*time.Millisecond)
			cancel()
			<-done
			list, err := edge.EdgeplaceV1alpha1().NodeNetworks().List(context.Background(), metav1.ListOptions{})
			require.NoError(t, err)
			asked := map[string]v1alpha1.NodeNetwork{}
			for _, nn := range list.Items {
				if nn.Spec.MeasureNow != nil {
					asked[nn.Name] = nn
				}
			}
			if tc.object == "" {
				assert.Empty(t, asked)
				assert.Len(t, list.Items, 1, "no object is created")
				return
			}
			require.Contains(t, asked, tc.object)
			nn := asked[tc.object]
			assert.Len(t, asked, 1)
			assert.Equal(t, []string{"osaka"}, nn.Spec.MeasureNow.Landmarks)
			assert.False(t, nn.Spec.MeasureNow.RequestedAt.IsZero())
			assert.Equal(t, tc.scope, nn.Spec.Scope)
			if tc.owner != "" {
				require.Len(t, nn.OwnerReferences, 1)
				assert.Equal(t, tc.owner, nn.OwnerReferences[0].UID)
				assert.Equal(t, "Node", nn.OwnerReferences[0].Kind)
			}
		})
	}
}

// writesDone counts the requester's patches and creates so far.
func writesDone(edge *fake.Clientset) int {
	n := 0
	for _, a := range edge.Actions() {
		if a.GetVerb() == "patch" || a.GetVerb() == "create" {
			n++
		}
	}
	return n
}

func (r *Requester) pendingLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func TestAskMergesAndHoldsBackRepeats(t *testing.T) {
	edge := fake.NewSimpleClientset(&v1alpha1.NodeNetwork{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	r := New(edge, 100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }

	// Two placements before the first request goes: one patch with both.
	require.True(t, r.Ask(Request{Node: "n1", Object: "n1", Landmarks: []string{"b", "a"}}))
	require.True(t, r.Ask(Request{Node: "n1", Object: "n1", Landmarks: []string{"c", "a"}}))
	assert.Len(t, r.ready, 1, "one object is queued once")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	require.Eventually(t, func() bool { return writesDone(edge) == 1 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	nn, err := edge.EdgeplaceV1alpha1().NodeNetworks().Get(context.Background(), "n1", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, nn.Spec.MeasureNow.Landmarks)

	// Asked again within Repeat: only what was not asked goes.
	now = now.Add(Repeat / 2)
	assert.False(t, r.Ask(Request{Node: "n1", Object: "n1", Landmarks: []string{"a", "c"}}), "all asked within Repeat")
	assert.True(t, r.Ask(Request{Node: "n1", Object: "n1", Landmarks: []string{"a", "d"}}))
	assert.Equal(t, []string{"d"}, r.pending["n1"].Landmarks)

	// After Repeat the same landmarks may be asked again.
	now = now.Add(Repeat)
	r.mu.Lock()
	r.forgetOld(now)
	r.mu.Unlock()
	assert.True(t, r.Ask(Request{Node: "n1", Object: "n1", Landmarks: []string{"a"}}))
	assert.Equal(t, []string{"a", "d"}, r.pending["n1"].Landmarks)
}

func TestAskDropsBeyondTheQueue(t *testing.T) {
	r := New(fake.NewSimpleClientset(), 1)
	for i := range queued {
		require.True(t, r.Ask(Request{Node: "n", Object: "o" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Landmarks: []string{"x"}}))
	}
	assert.False(t, r.Ask(Request{Node: "n", Object: "one-more", Landmarks: []string{"x"}}), "a full queue drops")
	assert.Len(t, r.pending, queued)
}
