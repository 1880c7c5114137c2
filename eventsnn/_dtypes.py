"""The one place where eventsnn's array dtypes are chosen.

Time and state are float64 (ms, mV); neuron and target ids are int32; CSR row
pointers are int64 so that a projection may hold more than 2**31 synapses.
"""
import numpy as np

TIME = np.float64   #: simulation time, ms
STATE = np.float64  #: membrane potential (mV) and synaptic currents (mV)
ID = np.int32       #: neuron / source ids
PTR = np.int64      #: CSR row pointers
WEIGHT = np.float64  #: default synaptic weight dtype (mV); float32 on request
