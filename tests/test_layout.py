"""The library never imports the application (fastdl.app), and no kernel calls a kernel in another file."""
import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "fastdl"
LIBRARY_FILES = sorted([*PACKAGE.glob("*.py"), *PACKAGE.glob("kernels/*.py")])
LIBRARY_MODULES = sorted(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                         for path in LIBRARY_FILES if path.name != "__main__.py")


def imported_modules(path):
    """Every module ``path`` imports, absolute (``from .x import y`` in fastdl/a.py -> ``fastdl.x``)."""
    package = ".".join(path.relative_to(PACKAGE.parent).parent.parts)
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = f"{base}.{node.module}" if node.level and node.module else base if node.level else node.module
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_library_files_do_not_import_the_application():
    offenders = {path.name: [name for name in imported_modules(path) if name.startswith("fastdl.app")]
                 for path in LIBRARY_FILES if path.name != "__main__.py"}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_importing_every_library_module_loads_no_application_module():
    code = ("import importlib, sys\n"
            f"for name in {LIBRARY_MODULES!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'fastdl.app' or m.startswith('fastdl.app.')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert len(LIBRARY_MODULES) > 10  # the glob found the library


def test_kernels_import_no_kernel_file_but_the_decorator():
    """Numba's cache of a kernel does not notice an edited callee in another file: kernels call only their own file."""
    for path in sorted(PACKAGE.glob("kernels/*.py")):
        fastdl_imports = [name for name in imported_modules(path) if name.startswith("fastdl.")]
        allowed = {"fastdl.runtime", "fastdl.runtime.CACHE", "fastdl.kernels", "fastdl.kernels.kernel",
                   "fastdl.kernels.PARALLEL_MIN_SIZE", "fastdl.kernels.STREAMING_PARALLEL_MIN_SIZE"}
        assert set(fastdl_imports) <= allowed, (path.name, fastdl_imports)
