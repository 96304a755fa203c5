package main

import "github.com/spf13/cobra"

func newDevCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "dev", Short: "placeholder"}
}
