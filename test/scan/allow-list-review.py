#!/usr/bin/env python3
# The allow-list review (docs/scanner.md): pickles real objects and prints, for every global
# their unpickling looks up, where it is defined and which sklearn parameters take callables.
# Usage: python3 test/scan/allow-list-review.py OUT.json   (Debian 12: python3-sklearn python3-torch python3-xgboost python3-joblib)
"""Pickle real benign objects and record every global they reference, with where it is defined."""
import pickle, io, importlib, inspect, json, sys, warnings
warnings.filterwarnings('ignore')
import numpy as np
seen = {}

class Rec(pickle.Unpickler):
    def find_class(self, module, name):
        seen.setdefault((module, name), set()).add(self.src)
        return super().find_class(module, name)

def record(src, obj):
    for proto in (2, 4, 5):
        b = pickle.dumps(obj, protocol=proto)
        u = Rec(io.BytesIO(b)); u.src = src; u.load()
    if proto == 5:
        b = pickle.dumps(obj, protocol=0) if src.startswith('std') else None
        if b:
            u = Rec(io.BytesIO(b)); u.src = src; u.load()

X = np.random.RandomState(0).rand(40, 4); y = (X[:, 0] > .5).astype(int); yr = X[:, 1]
record('numpy.array', np.arange(6.0).reshape(2, 3))
record('numpy.objarray', np.array([1, 'a'], dtype=object))
record('numpy.rng', np.random.default_rng(1)); record('numpy.rs', np.random.RandomState(1))
record('numpy.scalar', np.float32(1)); record('numpy.masked', np.ma.masked_array([1, 2], mask=[0, 1]))
import argparse, collections, datetime, fractions, decimal, uuid
record('std.argparse', argparse.Namespace(a=1)); record('std.od', collections.OrderedDict(a=1))
record('std.dd', collections.defaultdict(list)); record('std.misc', [datetime.datetime(2020, 1, 1), fractions.Fraction(1, 3), decimal.Decimal('1.5'), uuid.UUID(int=1), {1, 2}, frozenset([1]), complex(1, 2), bytearray(b'x'), range(3), slice(1, 2)])
try:
    import scipy.sparse as sp
    for f in ('csr_matrix', 'csc_matrix', 'coo_matrix', 'lil_matrix', 'dok_matrix', 'bsr_matrix', 'dia_matrix', 'csr_array', 'csc_array', 'coo_array'):
        if hasattr(sp, f): record('scipy.' + f, getattr(sp, f)(np.eye(3)))
except Exception as e: print('scipy', e, file=sys.stderr)
try:
    import sklearn
    from sklearn.utils import all_estimators
    for name, cls in all_estimators():
        try:
            est = cls()
        except Exception:
            continue
        try:
            if hasattr(est, 'fit'):
                try: est.fit(X, y)
                except Exception:
                    try: est.fit(X, yr)
                    except Exception:
                        try: est.fit(X)
                        except Exception: pass
            record('sklearn.' + name, est)
        except Exception as e:
            print('sklearn', name, e, file=sys.stderr)
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.linear_model import LogisticRegression
    record('sklearn.pipeline', Pipeline([('s', StandardScaler()), ('m', LogisticRegression())]).fit(X, y))
    from sklearn.datasets import load_iris
    record('sklearn.bunch', load_iris())
except Exception as e: print('sklearn', e, file=sys.stderr)
try:
    import torch, torch.nn as nn
    for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64, torch.complex128):
        record('torch.tensor.' + str(dt), torch.zeros(2, dtype=dt))
    m = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.ModuleList([nn.Conv2d(1, 1, 1)]), nn.BatchNorm1d(2))
    record('torch.state_dict', m.state_dict()); record('torch.parameter', nn.Parameter(torch.ones(2)))
    record('torch.misc', [torch.Size([1, 2]), torch.device('cpu'), torch.float32, torch.strided, torch.channels_last])
    record('torch.qtensor', torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8))
    record('torch.sparse', torch.eye(2).to_sparse())
    opt = torch.optim.SGD(m.parameters(), lr=0.1); record('torch.optim', opt.state_dict())
except Exception as e: print('torch', e, file=sys.stderr)
try:
    import xgboost
    record('xgboost.XGBClassifier', xgboost.XGBClassifier(n_estimators=2).fit(X, y))
    record('xgboost.Booster', xgboost.train({}, xgboost.DMatrix(X, y), 2))
except Exception as e: print('xgboost', e, file=sys.stderr)

out = []
import _compat_pickle
merged = {}
for (module, name), srcs in seen.items():
    if (module, name) in _compat_pickle.NAME_MAPPING: module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING: module = _compat_pickle.IMPORT_MAPPING[module]
    merged.setdefault((module, name), set()).update(srcs)
for (module, name), srcs in sorted(merged.items()):
    mod = importlib.import_module(module)
    obj = mod
    for part in name.split('.'): obj = getattr(obj, part)
    info = {'module': module, 'name': name, 'srcs': sorted(srcs)[:3], 'nsrcs': len(srcs),
            'defmod': getattr(obj, '__module__', None), 'qualname': getattr(obj, '__qualname__', None),
            'kind': 'class' if isinstance(obj, type) else type(obj).__name__}
    info['defined_here'] = info['defmod'] == module and info['qualname'] == name
    if isinstance(obj, type):
        info['dict'] = issubclass(obj, dict); info['list'] = issubclass(obj, list); info['set'] = issubclass(obj, (set, frozenset))
        pc = getattr(obj, '_parameter_constraints', None)
        if isinstance(pc, dict):
            info['callable_params'] = sorted(k for k, v in pc.items() if any(c is callable or c == 'callable' for c in (v if isinstance(v, list) else [v])))
        try:
            sig = inspect.signature(obj.__init__)
            info['params'] = [p for p in sig.parameters if p != 'self']
        except Exception: pass
        info['setstate'] = '__setstate__' in vars(obj) or any('__setstate__' in vars(b) for b in obj.__mro__[1:] if b.__module__.split('.')[0] == module.split('.')[0])
    out.append(info)
json.dump(out, open(sys.argv[1], 'w'), indent=1)
print(len(out), 'globals')
