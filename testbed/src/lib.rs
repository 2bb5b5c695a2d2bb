//! TODO: testbed namespaces (issue 3).
