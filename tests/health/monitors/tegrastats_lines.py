"""Recorded tegrastats output, for the parser's tests and the FAKE tegrastats.

Each constant is real output, quoted as published; where it came from is said beside it.
"""

# NVIDIA, L4T 32.5 Development Guide, appendix "tegrastats Utility": the example the
# table gives for each field, joined in the order tegrastats prints them.
L4T_GUIDE_FIELDS = "RAM 220/38955MB (lfb 847x4MB) SWAP 0/1978MB (cached 0MB) CPU [1%@102,5%@102,0%@102,0%@102]"

# Jetson Orin Nano, JetPack 6 (recorded device output, 1 s interval).
ORIN_NANO_JP6 = (
    "05-05-2025 06:05:39 RAM 2639/7620MB (lfb 9x4MB) SWAP 0/3810MB (cached 0MB) "
    "CPU [1%@729,4%@729,8%@729,4%@729,5%@729,4%@729] GR3D_FREQ 0% cpu@44.156C soc2@43.781C "
    "soc0@44.687C gpu@45.968C tj@45.968C soc1@45.312C VDD_IN 5263mW/5263mW VDD_CPU_GPU_CV 717mW/717mW "
    "VDD_SOC 1794mW/1794mW"
)

# Jetson AGX Orin 64GB, JetPack 5/6 (recorded device output; no timestamp: tegrastats before R36).
AGX_ORIN = (
    "RAM 13123/62841MB (lfb 63x4MB) SWAP 9/31420MB (cached 0MB) "
    "CPU [3%@729,4%@729,1%@729,4%@729,1%@729,3%@729,2%@729,1%@729,4%@729,2%@729,1%@729,1%@729] "
    "GR3D_FREQ 0% cpu@48.156C soc2@43.562C soc0@45.125C tj@48.156C soc1@44.343C "
    "VDD_GPU_SOC 3193mW/3193mW VDD_CPU_CV 399mW/399mW VIN_SYS_5V0 4306mW/4306mW"
)

# Jetson AGX Orin Developer Kit, JetPack 7.2 (L4T R39.2): GR3D_FREQ with a load and one
# frequency per GPC, temperatures with their maximum, rails current/average/maximum.
AGX_ORIN_JP7 = (
    "07-25-2026 09:08:28 RAM 20642/62817MB (lfb 1x2MB) "
    "CPU [23%@2201,10%@2201,4%@2201,14%@2201,30%@2201,18%@2201,10%@2201,10%@2201,33%@2201,7%@2201,5%@2201,27%@2201] "
    "EMC_FREQ 3%@3199 GR3D_FREQ 12%@[1300,1300] NVENC0 off NVDEC0 off NVJPG0 off NVJPG1 off VIC off OFA off "
    "NVDLA0 off NVDLA1 off PVA0_FREQ off APE 174 "
    "cpu@52.968C/52.968C soc2@48.406C/48.406C soc0@49.531C/49.531C gpu@47.625C/47.625C "
    "VDD_GPU_SOC 5139mW/5139mW/5139mW VDD_CPU_CV 3268mW/3268mW/3268mW VIN_SYS_5V0 5500mW/5500mW/5500mW"
)

# Jetson AGX Thor, JetPack 7 (L4T R39), under load: three GPCs, Thor's rails.
THOR_LOADED = (
    "08-08-2026 21:00:39 RAM 8353/125749MB (lfb 31x4MB) "
    "CPU [90%@2601,75%@2601,off,7%@2601] EMC_FREQ 34%@4266 "
    "GR3D_FREQ 87%@[1574,1574,1574] NVENC0_FREQ @1691 VIC off "
    "cpu@58.25C/61.75C tj@66.625C/66.625C gpu@56.937C/66.625C "
    "soc012@55.375C/58.781C soc345@55.812C/60.031C "
    "VDD_GPU 37939mW/8660mW/37939mW "
    "VDD_CPU_SOC_MSS 30059mW/12281mW/30059mW "
    "VIN_SYS_5V0 15486mW/7424mW/15486mW "
    "VIN 124486mW/36487mW/124486mW"
)

# The same Thor idle: CPU loads with one frequency for all, GR3D_FREQ without a load.
THOR_IDLE = (
    "08-08-2026 20:58:23 RAM 3429/125749MB (lfb 120x4MB) "
    "CPU [0%,5%,off]@2601 EMC_FREQ @4266 "
    "GR3D_FREQ @[1574,1574,1574] cpu@49.75C/49.75C "
    "tj@51.218C/51.218C gpu@51.218C/51.218C "
    "VDD_GPU 6330mW/6330mW/6330mW VIN 28906mW/14453mW/28906mW"
)

# Jetson AGX Thor, JetPack 7.0 (R38): no GR3D_FREQ at all; VDD_GPU's calibration offset
# reads negative at idle.  (The CPU list is shortened to one core as quoted.)
THOR_JP70 = (
    "05-14-2026 21:36:35 RAM 26063/125772MB (lfb 35x4MB) CPU [2%@972] VDD_GPU -392mW/-392mW "
    "VDD_CPU_SOC_MSS 3924mW/3835mW VIN_SYS_5V0 5064mW/5055mW VIN 15004mW/15096mW"
)

ALL = (ORIN_NANO_JP6, AGX_ORIN, AGX_ORIN_JP7, THOR_LOADED, THOR_IDLE, THOR_JP70)
