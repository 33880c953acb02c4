package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logFlags are --log-format and --log-level (and the deprecated --debug).
type logFlags struct {
	format string
	level  zapcore.Level
}

// addTo defines the flags on fs.
func (l *logFlags) addTo(fs *pflag.FlagSet) {
	l.format, l.level = "json", zapcore.InfoLevel
	fs.Var(choiceFlag{&l.format, []string{"json", "console"}}, "log-format", "log encoding: json (one object per line) or console (tab-separated, for people)")
	fs.Var(levelFlag{&l.level}, "log-level", "lowest level logged: debug, info, warn or error")
	fs.Var(debugFlag{&l.level}, "debug", "")
	fs.Lookup("debug").NoOptDefVal = "true"
	_ = fs.MarkDeprecated("debug", "use --log-level=debug instead")
}

// logger builds the logger writing to w: zap's production settings
// (sampling, callers, stack traces from error level) in the chosen format.
func (l *logFlags) logger(w io.Writer) *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	var enc zapcore.Encoder
	if l.format == "console" {
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	sink := zapcore.Lock(zapcore.AddSync(w))
	core := zapcore.NewSamplerWithOptions(zapcore.NewCore(enc, sink, l.level), time.Second, 100, 100)
	return zap.New(core, zap.ErrorOutput(sink), zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel))
}

// levelFlag is --log-level.
type levelFlag struct{ level *zapcore.Level }

func (f levelFlag) String() string {
	if f.level == nil {
		return ""
	}
	return f.level.String()
}

func (f levelFlag) Set(s string) error {
	for _, l := range []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.ErrorLevel} {
		if s == l.String() {
			*f.level = l
			return nil
		}
	}
	return fmt.Errorf("want debug, info, warn or error")
}

func (f levelFlag) Type() string { return "level" }

// debugFlag is the deprecated --debug: true is --log-level=debug.
type debugFlag struct{ level *zapcore.Level }

func (f debugFlag) String() string { return "false" }

func (f debugFlag) Set(s string) error {
	switch s {
	case "true":
		*f.level = zapcore.DebugLevel
	case "false":
	default:
		return fmt.Errorf("want true or false")
	}
	return nil
}

func (f debugFlag) Type() string { return "bool" }
