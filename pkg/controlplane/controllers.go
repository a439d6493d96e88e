package controlplane

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/pkg/controller/deployment"
	"k8s.io/kubernetes/pkg/controller/replicaset"
)

// controllers are the kube-controller-manager loops the control plane runs
// in process, so that tests and the demo can use real Deployments.
type controllers struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startControllers runs the Deployment and ReplicaSet controllers until
// stopped. They talk to the API server like any client, so they ride out an
// API server restart.
func startControllers(ctx context.Context, cfg *rest.Config) (*controllers, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "edgeplace-controlplane-controllers"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	factory := informers.NewSharedInformerFactory(client, 0)
	deployments, err := deployment.NewDeploymentController(ctx,
		factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), client)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("deployment controller: %w", err)
	}
	replicaSets := replicaset.NewReplicaSetController(ctx,
		factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), client, replicaset.BurstReplicas)
	factory.Start(ctx.Done())
	c := &controllers{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		finished := make(chan struct{}, 2)
		go func() { deployments.Run(ctx, 2); finished <- struct{}{} }()
		go func() { replicaSets.Run(ctx, 2); finished <- struct{}{} }()
		<-finished
		<-finished
		factory.Shutdown()
	}()
	return c, nil
}

func (c *controllers) stop() error {
	if c == nil {
		return errors.New("controllers not running")
	}
	c.cancel()
	<-c.done
	return nil
}
