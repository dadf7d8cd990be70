# check-attn: the attnc lit suite.
# Features: `nvrtc` when NVRTC can compile here (CI has it: compile-only), `cuda` when a GPU
# is present (the GPU machine).
import os
import subprocess

import lit.formats

config.name = "attnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".attn", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt", "unit", "gpu", "compiler", "fuzz", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attnc_obj_root, "test")

tools = config.attnc_tools_dir
config.environment["PATH"] = os.pathsep.join(
    [tools, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.environment["ATTNC_CACHE_DIR"] = os.path.join(config.test_exec_root, "kernel-cache")
config.substitutions.append(("%examples", os.path.join(config.attnc_src_root, "examples")))
config.substitutions.append(("%attnc_src", config.attnc_src_root))
config.substitutions.append(("%attnc_lib", os.path.join(config.attnc_obj_root, "lib")))


def probe(*args):
    try:
        return subprocess.run([os.path.join(tools, "attnc"), *args], capture_output=True,
                              text=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


if probe("version") and "NVRTC:" not in subprocess.run(
        [os.path.join(tools, "attnc"), "version"], capture_output=True, text=True).stdout:
    config.available_features.add("nvrtc")
if probe("devices"):
    config.available_features.add("cuda")
