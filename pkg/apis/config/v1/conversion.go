package v1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/conversion"

	"github.com/edgeplace/edgeplace/pkg/apis/config"
)

// Convert_v1_NetworkLatencyArgs_To_config_NetworkLatencyArgs converts what
// conversion-gen cannot: the optional percentile string to its internal type.
func Convert_v1_NetworkLatencyArgs_To_config_NetworkLatencyArgs(in *NetworkLatencyArgs, out *config.NetworkLatencyArgs, s conversion.Scope) error {
	if err := autoConvert_v1_NetworkLatencyArgs_To_config_NetworkLatencyArgs(in, out, s); err != nil {
		return err
	}
	out.DefaultPercentile = ""
	if in.DefaultPercentile != nil {
		out.DefaultPercentile = config.Percentile(*in.DefaultPercentile)
	}
	return nil
}

// Convert_config_NetworkLatencyArgs_To_v1_NetworkLatencyArgs is the reverse.
func Convert_config_NetworkLatencyArgs_To_v1_NetworkLatencyArgs(in *config.NetworkLatencyArgs, out *NetworkLatencyArgs, s conversion.Scope) error {
	if err := autoConvert_config_NetworkLatencyArgs_To_v1_NetworkLatencyArgs(in, out, s); err != nil {
		return err
	}
	p := string(in.DefaultPercentile)
	out.DefaultPercentile = &p
	return nil
}

// Convert_v1_BandwidthCostArgs_To_config_BandwidthCostArgs converts the
// optional default price.
func Convert_v1_BandwidthCostArgs_To_config_BandwidthCostArgs(in *BandwidthCostArgs, out *config.BandwidthCostArgs, s conversion.Scope) error {
	if err := autoConvert_v1_BandwidthCostArgs_To_config_BandwidthCostArgs(in, out, s); err != nil {
		return err
	}
	out.DefaultPricePerMbps = resource.Quantity{}
	if in.DefaultPricePerMbps != nil {
		out.DefaultPricePerMbps = in.DefaultPricePerMbps.DeepCopy()
	}
	return nil
}

// Convert_config_BandwidthCostArgs_To_v1_BandwidthCostArgs is the reverse.
func Convert_config_BandwidthCostArgs_To_v1_BandwidthCostArgs(in *config.BandwidthCostArgs, out *BandwidthCostArgs, s conversion.Scope) error {
	if err := autoConvert_config_BandwidthCostArgs_To_v1_BandwidthCostArgs(in, out, s); err != nil {
		return err
	}
	price := in.DefaultPricePerMbps.DeepCopy()
	out.DefaultPricePerMbps = &price
	return nil
}
