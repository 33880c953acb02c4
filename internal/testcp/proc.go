package testcp

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// CPUSeconds is utime + stime of a process, all its threads, in seconds.
func CPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which may hold spaces.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return (utime + stime) / clockTicks, nil
}

// MemoryKiB reads VmRSS and VmHWM (peak RSS) of a process.
func MemoryKiB(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak, sc.Err()
}

// PIDs finds the control plane's kube-apiserver (by its secure port) and
// etcd (by the client URL the API server uses) among the running processes.
func (cp *ControlPlane) PIDs() (apiserver, etcd int, err error) {
	u, err := url.Parse(cp.Config.Host)
	if err != nil {
		return 0, 0, err
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	cmdlines := map[int][]string{}
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		cmdlines[pid] = strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	}
	etcdURL := ""
	for pid, args := range cmdlines {
		if len(args) == 0 || filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		for _, a := range args {
			if a == "--secure-port="+u.Port() {
				apiserver = pid
			}
		}
		if apiserver == pid {
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "--etcd-servers="); ok {
					etcdURL = v
				}
			}
			break
		}
	}
	if apiserver == 0 || etcdURL == "" {
		return 0, 0, fmt.Errorf("no kube-apiserver process with --secure-port=%s", u.Port())
	}
	for pid, args := range cmdlines {
		if len(args) == 0 || filepath.Base(args[0]) != "etcd" {
			continue
		}
		for _, a := range args {
			if strings.HasPrefix(a, "--listen-client-urls") && strings.Contains(a, strings.TrimPrefix(etcdURL, "http://")) {
				return apiserver, pid, nil
			}
		}
	}
	return apiserver, 0, fmt.Errorf("no etcd process serving %s", etcdURL)
}

// LoadAverage is the 1-minute load average of the machine (-1 if unknown):
// on a shared machine it says how much other work ran next to a benchmark.
func LoadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
