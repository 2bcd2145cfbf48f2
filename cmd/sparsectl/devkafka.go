package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

func devKafkaCmd() *cobra.Command {
	var o ctl.KafkaOptions
	var insecure bool
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Run an in-process Kafka-protocol broker until Ctrl-C or SIGTERM",
		Long: `Run a single Kafka-protocol broker in this process (franz-go's kfake), for
development and tests: point kafka.brokers of a kafka-spout or kafka-bolt at the address
it prints. Topics are created on first use with --partitions partitions; --topic creates
some at start. With --data-dir the topics, records and committed offsets outlive a
restart. It is not a production broker: plaintext, no replication.`,
		Example: `  sparsectl dev kafka --topic lines --topic counts --partitions 4
  printf 'the cow\nthe moon\n' | sparsectl dev kafka produce --topic lines
  sparsectl dev kafka consume --topic counts --from-beginning`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := tlsconf.CheckListen("sparsectl dev kafka --listen", o.Listen, false, insecure); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return ctl.RunKafka(ctx, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:9092", "address, host:port (port 0 picks a free one)")
	f.IntVar(&o.Partitions, "partitions", 4, "partitions of each topic it creates")
	f.StringArrayVar(&o.Topics, "topic", nil, "a topic to create at start (repeatable)")
	f.StringVar(&o.DataDir, "data-dir", "", "keep topics, records and offsets in this directory (default: in memory)")
	f.BoolVar(&insecure, "insecure", false, "allow a non-loopback --listen (the broker has no TLS and no authentication)")
	cmd.AddCommand(devKafkaProduceCmd(), devKafkaConsumeCmd())
	return cmd
}

func devKafkaProduceCmd() *cobra.Command {
	var brokers, topic string
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Write each line of stdin as a record to a topic",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return ctl.KafkaProduce(ctx, strings.Split(brokers, ","), topic, cmd.InOrStdin(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&brokers, "brokers", "127.0.0.1:9092", "brokers, host:port,...")
	cmd.Flags().StringVar(&topic, "topic", "", "the topic (required)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}

func devKafkaConsumeCmd() *cobra.Command {
	var brokers, topic string
	var fromStart bool
	var max int
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Print the value of each record of a topic, one a line, until Ctrl-C",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return ctl.KafkaConsume(ctx, strings.Split(brokers, ","), topic, fromStart, max, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&brokers, "brokers", "127.0.0.1:9092", "brokers, host:port,...")
	cmd.Flags().StringVar(&topic, "topic", "", "the topic (required)")
	cmd.Flags().BoolVar(&fromStart, "from-beginning", false, "start at the topic's first records (default: only new ones)")
	cmd.Flags().IntVar(&max, "max", 0, "stop after this many records (0: no limit)")
	_ = cmd.MarkFlagRequired("topic")
	return cmd
}
